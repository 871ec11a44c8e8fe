"""What an identity provider says of a teammate, checked and kept as sent.

An identity provider names a teammate by a user name (any non-empty string, its choice),
may send e-mail entries (value, type, primary, display), an external id and name parts.
They are stored as sent, so that the provider reads back what it wrote; the workspace
derives from them the two values it uses itself: the sign-in e-mail
(``sign_in_email``) and the one name it shows (``one_name``).

These functions only check and shape values; ``teammates`` stores them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from oauth_server import text
from oauth_server.errors import ValidationFailed
from oauth_server.models import Teammate
from oauth_server.models.teammate import EMAIL_MAX
from oauth_server.models.teammate import EXTERNAL_ID_MAX
from oauth_server.models.teammate import USER_NAME_MAX
from oauth_server.models.teammate import identity_key

EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
EMAILS_MAX = 20
NAME_PARTS = ("formatted", "givenName", "middleName", "familyName")


def normalize_email(email: str) -> str:
    """The stored form of a sign-in e-mail: trimmed, lower-cased, NFC."""
    email = unicodedata.normalize("NFC", (email or "").strip().lower())
    if (
        not EMAIL_RE.match(email)
        or len(email) > EMAIL_MAX
        or len(email_key(email)) > EMAIL_MAX
        or not text.is_storable(email)
    ):
        raise ValidationFailed("Enter a valid e-mail address.", field="email")
    return email


def email_key(email: str) -> str:
    """The form e-mails are compared in (sign-in, uniqueness): NFC, case folded."""
    return identity_key((email or "").strip())


def user_name(value: str) -> str:
    """Any non-empty string, kept as sent (RFC 7643 §4.1.1: the provider's choice)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("User name is required.", field="user_name")
    text.check(value, "User name", field="user_name")
    if len(value) > USER_NAME_MAX or len(identity_key(value)) > USER_NAME_MAX:
        raise ValidationFailed(
            f"User name must be at most {USER_NAME_MAX} characters.", field="user_name"
        )
    return value


def external_id(value: str) -> str | None:
    """The provider's own id for the teammate; "" clears it."""
    if not value:
        return None
    text.check(value, "External id", field="external_id")
    if len(value) > EXTERNAL_ID_MAX:
        raise ValidationFailed(
            f"External id must be at most {EXTERNAL_ID_MAX} characters.", field="external_id"
        )
    return value


def email_entries(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The e-mail entries to store as sent: value, type, primary, display."""
    kept: list[dict[str, Any]] = []
    for entry in entries:
        value = entry.get("value")
        if not isinstance(value, str) or not value.strip():
            raise ValidationFailed("Each e-mail entry needs a value.", field="emails")
        item: dict[str, Any] = {}
        for key in ("value", "type", "display"):
            part = entry.get(key)
            if part is None:
                continue
            part = text.check(str(part), f"An e-mail entry's {key}", field="emails")
            if len(part) > EMAIL_MAX:
                raise ValidationFailed(
                    f"An e-mail entry's {key} must be at most {EMAIL_MAX} characters.",
                    field="emails",
                )
            item[key] = part
        if entry.get("primary") is not None:
            item["primary"] = bool(entry["primary"])
        kept.append(item)
    if len(kept) > EMAILS_MAX:
        raise ValidationFailed(f"A teammate has at most {EMAILS_MAX} e-mails.", field="emails")
    return kept


def sign_in_email(emails: list[dict[str, Any]], user_name: str) -> str:
    """The e-mail a teammate signs in with, in its stored form.

    The primary entry, else the first ``work`` one, else the first one; with no entries,
    the user name when it is an e-mail address. Teammates sign in by e-mail, so a
    teammate with neither is refused.
    """
    chosen = (
        next((e for e in emails if e.get("primary")), None)
        or next((e for e in emails if str(e.get("type") or "").lower() == "work"), None)
        or next(iter(emails), None)
    )
    if chosen is not None:
        try:
            return normalize_email(chosen["value"])
        except ValidationFailed:
            raise ValidationFailed(
                f"{str(chosen['value'])[:80]!r} among the e-mails is not an e-mail address.",
                field="emails",
            ) from None
    try:
        return normalize_email(user_name)
    except ValidationFailed:
        raise ValidationFailed(
            "Teammates sign in with an e-mail address: send one among the e-mails, or a "
            "user name that is an e-mail address.",
            field="emails",
        ) from None


def name_parts(names: Mapping[str, Any]) -> dict[str, Any]:
    """The name parts and display name, checked, as stored in ``Teammate.scim_names``."""
    kept: dict[str, Any] = {}
    parts = {
        key: text.name(str(value), f"The name's {key}", required=False)
        for key, value in (names.get("name") or {}).items()
        if key in NAME_PARTS and value is not None
    }
    if parts:
        kept["name"] = parts
    if names.get("displayName") is not None:
        kept["displayName"] = text.name(str(names["displayName"]), "Display name", required=False)
    return kept


def one_name(names: Mapping[str, Any]) -> str:
    """The one name the workspace shows: ``formatted``, else the parts joined, else the
    display name."""
    parts = names.get("name") or {}
    joined = " ".join(
        str(parts[key]).strip() for key in NAME_PARTS[1:] if (parts.get(key) or "").strip()
    )
    return text.name(
        (parts.get("formatted") or "").strip() or joined or names.get("displayName") or "",
        "Name",
        required=False,
    )


def stored_emails(teammate: Teammate) -> list[dict[str, Any]]:
    """The teammate's e-mail entries; one ``work`` entry, their sign-in e-mail, if none were
    sent."""
    if teammate.emails is not None:
        return [dict(entry) for entry in teammate.emails]
    return [{"value": teammate.email, "type": "work", "primary": True}]
