"""Teammates and teams to SCIM resources (RFC 7643) and back.

What is stored, and how:

- ``userName`` is the teammate's e-mail, their sign-in name: lower-cased, unique across
  the whole server. ``emails`` is read from it (one ``work`` e-mail, primary); e-mails
  sent by a client are accepted and ignored, ``userName`` decides.
- ``Teammate.name`` is one string. It is written from ``name.formatted``, else
  ``name.givenName`` [``middleName``] ``familyName`` joined by spaces, else
  ``displayName``. It is read back as ``name.formatted`` and ``displayName``, and split
  at its last space into ``givenName`` and ``familyName`` (a one-word name is a
  ``givenName`` only).
- ``active`` is ``Teammate.active``; ``groups`` (read-only) are the teammate's teams.
- A group is a team: ``displayName`` is its name, ``members`` its teammates (users
  only: a team holds no teams).
- ``externalId`` has no column yet: accepted, not stored, never returned.
- The other core attributes (``title``, ``phoneNumbers``...) and the enterprise
  extension are accepted, so identity providers' default mappings work, and not
  stored; ``/Schemas`` lists only what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim2_models import Email
from scim2_models import Group
from scim2_models import GroupMember
from scim2_models import GroupMembership
from scim2_models import Meta
from scim2_models import Name
from scim2_models import Reference
from scim2_models import User

from oauth_server.models import Team
from oauth_server.models import Teammate

USER_SCHEMA = str(User.__schema__)
GROUP_SCHEMA = str(Group.__schema__)
# RFC 7643 §4.3. Sent by default by some identity providers (Entra's employeeId,
# department, manager); we keep none of it, so it is dropped before validation.
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


# --- users -------------------------------------------------------------------------------


def split_name(full: str) -> tuple[str | None, str | None]:
    """``(givenName, familyName)`` of a one-string name, split at its last space."""
    words = full.split()
    if not words:
        return None, None
    if len(words) == 1:
        return words[0], None
    return " ".join(words[:-1]), words[-1]


def to_user(teammate: Teammate, base_url: str) -> User:
    given, family = split_name(teammate.name)
    location = f"{base_url}/Users/{teammate.id}"
    return User(
        id=str(teammate.id),
        user_name=teammate.email,
        name=Name(formatted=teammate.name, given_name=given, family_name=family)
        if teammate.name
        else None,
        display_name=teammate.name or None,
        active=teammate.active,
        # Built without validation: our own rules accepted the stored address, and
        # email-validator refuses special-use domains (.local, .test) some companies use.
        emails=[Email.model_construct(value=teammate.email, type=Email.Type.work, primary=True)],
        groups=[
            GroupMembership(
                value=str(team.id),
                ref=Reference(f"{base_url}/Groups/{team.id}"),
                display=team.name,
                type="direct",
            )
            for team in sorted(teammate.teams, key=lambda t: t.id)
        ]
        or None,
        meta=Meta(resource_type="User", created=teammate.created_at, location=location),
    )


@dataclass(frozen=True)
class UserFields:
    """What a SCIM request asks of a teammate; None leaves a field as it is."""

    email: str | None = None
    name: str | None = None
    active: bool | None = None


def _joined(name: Name | None) -> str:
    if name is None:
        return ""
    parts = (name.given_name, name.middle_name, name.family_name)
    return " ".join(p.strip() for p in parts if p and p.strip())


def full_name(user: User) -> str:
    """The one-string name of a whole resource (creation, replacement)."""
    if user.name is not None and user.name.formatted and user.name.formatted.strip():
        return user.name.formatted.strip()
    return _joined(user.name) or (user.display_name or "").strip()


def user_fields(user: User) -> UserFields:
    """A creation or replacement: every stored field from the resource.

    A replacement that leaves ``active`` out keeps the teammate's state rather than
    guess: deactivation is always said explicitly.
    """
    return UserFields(email=user.user_name or "", name=full_name(user), active=user.active)


def patched_user_fields(before: User, after: User) -> UserFields:
    """A PATCH: only what the operations changed, the changed name part deciding."""
    email = after.user_name if after.user_name != before.user_name else None
    name: str | None = None
    old, new = before.name or Name(), after.name or Name()
    if new.model_dump() != old.model_dump():
        formatted = (new.formatted or "").strip()
        if formatted and formatted != (old.formatted or "").strip():
            name = formatted
        else:
            name = _joined(new) or formatted or (after.display_name or "").strip()
    elif after.display_name != before.display_name:
        name = (after.display_name or "").strip()
    active = after.active if after.active != before.active else None
    return UserFields(email=email, name=name, active=active)


# --- groups ------------------------------------------------------------------------------


def to_group(team: Team, base_url: str) -> Group:
    return Group(
        id=str(team.id),
        display_name=team.name,
        members=[
            GroupMember(
                value=str(member.id),
                ref=Reference(f"{base_url}/Users/{member.id}"),
                type="User",
                display=member.display_name,
            )
            for member in sorted(team.members, key=lambda m: m.id)
        ]
        or None,
        meta=Meta(
            resource_type="Group", created=team.created_at, location=f"{base_url}/Groups/{team.id}"
        ),
    )


@dataclass(frozen=True)
class GroupFields:
    name: str | None = None
    member_ids: list[str] | None = None


def member_ids(group: Group) -> list[str]:
    """The user ids of ``members``; a member of another type than User is refused."""
    ids: list[str] = []
    for member in group.members or []:
        if member.type is not None and str(member.type).lower() != "user":
            raise ValueError("A group's members are users: a team holds no teams.")
        if not member.value:
            raise ValueError("Each member needs a value: the id of a user.")
        ids.append(str(member.value))
    return ids


def group_fields(group: Group) -> GroupFields:
    return GroupFields(name=group.display_name or "", member_ids=member_ids(group))


def patched_group_fields(before: Group, after: Group) -> GroupFields:
    name = after.display_name if after.display_name != before.display_name else None
    old, new = member_ids(before), member_ids(after)
    return GroupFields(name=name, member_ids=new if new != old else None)


# --- what we accept and drop -------------------------------------------------------------


def _is_enterprise(key: Any) -> bool:
    return isinstance(key, str) and key.lower().startswith(ENTERPRISE_SCHEMA.lower())


def drop_ignored_extensions(payload: Any) -> Any:
    """A resource payload without the enterprise extension (nothing of it is stored)."""
    if not isinstance(payload, dict):
        return payload
    cleaned = {k: v for k, v in payload.items() if not _is_enterprise(k)}
    schemas = cleaned.get("schemas")
    if isinstance(schemas, list):
        cleaned["schemas"] = [s for s in schemas if not _is_enterprise(s)]
    return cleaned


def drop_ignored_operations(payload: Any) -> tuple[Any, bool]:
    """A PatchOp payload without operations on the enterprise extension.

    Returns the payload and whether any operation is left to apply: a PATCH that only
    touched the extension changes nothing and is no error.
    """
    if not isinstance(payload, dict):
        return payload, True
    key = next((k for k in payload if isinstance(k, str) and k.lower() == "operations"), None)
    operations = payload.get(key) if key else None
    if not isinstance(operations, list) or not operations:
        return payload, True
    kept = []
    for operation in operations:
        if not isinstance(operation, dict):
            kept.append(operation)
            continue
        path = next((v for k, v in operation.items() if str(k).lower() == "path"), None)
        if _is_enterprise(path):
            continue
        value_key = next((k for k in operation if str(k).lower() == "value"), None)
        value = operation.get(value_key) if value_key else None
        if path is None and isinstance(value, dict):
            trimmed = {k: v for k, v in value.items() if not _is_enterprise(k)}
            if not trimmed and value:
                continue
            operation = {**operation, value_key: trimmed}
        kept.append(operation)
    return {**payload, key: kept}, bool(kept)
