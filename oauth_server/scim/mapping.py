"""Teammates and teams to SCIM resources (RFC 7643) and back.

What is stored, and how:

- ``userName`` is any non-empty string, stored and returned as sent, unique in the
  company (compared NFC and case folded). ``emails`` are stored and returned as sent.
  The sign-in e-mail (unique across the server) is the primary entry of ``emails``,
  else the first ``work`` one, else the first one, else the userName when it is an
  e-mail address; a user with neither is refused (``identities.sign_in_email``).
  A teammate made elsewhere (command line) shows their sign-in e-mail as userName
  and as one ``work`` e-mail.
- ``externalId`` is stored as sent (caseExact), for ``filter=externalId eq "..."``.
- ``roles``: an admin has one entry, ``admin``. A request that sends ``roles`` gives
  or takes the admin role by it; one that leaves it out keeps the role.
- ``name`` (its parts) and ``displayName`` are stored and returned as sent
  (``Teammate.scim_names``). The workspace shows one string, ``Teammate.name``: written
  from ``name.formatted``, else ``name.givenName`` [``middleName``] ``familyName``
  joined by spaces, else ``displayName``. A teammate made elsewhere shows it as
  ``name.formatted`` and ``displayName``, split at its last space into ``givenName``
  and ``familyName`` (a one-word name is a ``givenName`` only).
- ``active`` is ``Teammate.active``; ``groups`` (read-only) are the teammate's teams.
- A group is a team: ``displayName`` is its name, ``members`` its teammates (users
  only: a team holds no teams; ``value``, ``$ref`` and ``type``, as RFC 7643 §4.2
  defines them), ``externalId`` stored as sent.
- The other core attributes (``title``, ``phoneNumbers``...) and the enterprise
  extension are accepted, so identity providers' default mappings work, and not
  stored; ``/Schemas`` lists only what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from scim2_models import Email
from scim2_models import Group
from scim2_models import GroupMember
from scim2_models import GroupMembership
from scim2_models import Meta
from scim2_models import Name
from scim2_models import Reference
from scim2_models import Role
from scim2_models import User

from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.services.identities import stored_emails

USER_SCHEMA = str(User.__schema__)
GROUP_SCHEMA = str(Group.__schema__)
# RFC 7643 §4.3. Sent by default by some identity providers (Entra's employeeId,
# department, manager); we keep none of it, so it is dropped before validation.
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ADMIN_ROLE = "admin"


# --- users -------------------------------------------------------------------------------


def split_name(full: str) -> tuple[str | None, str | None]:
    """``(givenName, familyName)`` of a one-string name, split at its last space."""
    words = full.split()
    if not words:
        return None, None
    if len(words) == 1:
        return words[0], None
    return " ".join(words[:-1]), words[-1]


def _names_of(teammate: Teammate) -> tuple[Name | None, str | None]:
    if teammate.scim_names is None:  # made elsewhere: the one name stands for both
        given, family = split_name(teammate.name)
        if not teammate.name:
            return None, None
        return Name(formatted=teammate.name, given_name=given, family_name=family), teammate.name
    parts = teammate.scim_names.get("name")
    name = Name.model_validate(parts) if parts else None
    return name, teammate.scim_names.get("displayName")


def _email(entry: dict[str, Any]) -> Email:
    values = dict(entry)
    if values.get("type") is not None:
        values["type"] = Email.Type(values["type"])  # an extensible enumeration
    return Email.model_construct(**values)


def to_user(teammate: Teammate, base_url: str) -> User[Any]:
    location = f"{base_url}/Users/{teammate.id}"
    name, display_name = _names_of(teammate)
    return User(
        id=str(teammate.id),
        external_id=teammate.external_id,
        user_name=teammate.scim_user_name,
        name=name,
        display_name=display_name,
        active=teammate.active,
        # Built without validation: our own rules accepted the stored address, and
        # email-validator refuses special-use domains (.local, .test) some companies use.
        emails=[_email(entry) for entry in stored_emails(teammate)] or None,
        roles=[Role(value=ADMIN_ROLE)] if teammate.is_admin else None,
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

    user_name: str | None = None
    emails: list[dict[str, Any]] | None = None
    external_id: str | None = None  # "" removes it
    names: dict[str, Any] | None = None  # {"name": {...}, "displayName": ...}
    active: bool | None = None
    admin: bool | None = None


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def plain_emails(user: User[Any]) -> list[dict[str, Any]]:
    """``emails`` as plain entries, in the order sent."""
    return [
        {
            key: _plain(getattr(email, key))
            for key in ("value", "type", "primary", "display")
            if getattr(email, key, None) is not None
        }
        for email in user.emails or []
    ]


def is_admin(roles: list[Role] | None) -> bool:
    return any(str(role.value or "").strip().casefold() == ADMIN_ROLE for role in roles or [])


def names(user: User[Any]) -> dict[str, Any]:
    """``name`` (its non-empty parts, by their SCIM names) and ``displayName``."""
    parts = user.name.model_dump(exclude_none=True, by_alias=True) if user.name else {}
    return {"name": parts or None, "displayName": user.display_name}


def _patched_names(before: User[Any], after: User[Any]) -> dict[str, Any] | None:
    """The names after a PATCH, or None if unchanged.

    A part changed under an unchanged ``formatted`` makes that ``formatted`` stale: it
    goes, and the parts joined become the name.
    """
    old, new = names(before), names(after)
    if new == old:
        return None
    old_parts, new_parts = old["name"] or {}, dict(new["name"] or {})
    parts_changed = any(
        old_parts.get(key) != new_parts.get(key)
        for key in ("givenName", "middleName", "familyName")
    )
    if parts_changed and old_parts.get("formatted") == new_parts.get("formatted"):
        new_parts.pop("formatted", None)
        new["name"] = new_parts or None
    return new


def user_fields(user: User[Any]) -> UserFields:
    """A creation or replacement: every stored field from the resource.

    A replacement that leaves ``active`` or ``roles`` out keeps the teammate's state and
    role rather than guess: deactivation and the admin role are always said explicitly.
    """
    return UserFields(
        user_name=user.user_name or "",
        emails=plain_emails(user),
        external_id=user.external_id or "",
        names=names(user),
        active=user.active,
        admin=None if user.roles is None else is_admin(user.roles),
    )


def patched_user_fields(before: User[Any], after: User[Any]) -> UserFields:
    """A PATCH: only what the operations changed, the changed name part deciding."""
    user_name = after.user_name if after.user_name != before.user_name else None
    emails = plain_emails(after)
    active = after.active if after.active != before.active else None
    admin = is_admin(after.roles) if is_admin(after.roles) != is_admin(before.roles) else None
    return UserFields(
        user_name=user_name,
        emails=emails if emails != plain_emails(before) else None,
        external_id=(after.external_id or "") if after.external_id != before.external_id else None,
        names=_patched_names(before, after),
        active=active,
        admin=admin,
    )


# --- groups ------------------------------------------------------------------------------


def to_group(team: Team, base_url: str) -> Group:
    return Group(
        id=str(team.id),
        external_id=team.external_id,
        display_name=team.name,
        members=[
            GroupMember(
                value=str(member.id),
                ref=Reference(f"{base_url}/Users/{member.id}"),
                type="User",
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
    external_id: str | None = None  # "" removes it


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
    return GroupFields(
        name=group.display_name or "",
        member_ids=member_ids(group),
        external_id=group.external_id or "",
    )


def patched_group_fields(before: Group, after: Group) -> GroupFields:
    name = after.display_name if after.display_name != before.display_name else None
    old, new = member_ids(before), member_ids(after)
    external_id = (after.external_id or "") if after.external_id != before.external_id else None
    return GroupFields(name=name, member_ids=new if new != old else None, external_id=external_id)


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
