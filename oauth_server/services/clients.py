"""Partner app registration: redirect URIs, secrets (shown once), rotation, deletion."""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

from sqlalchemy import bindparam
from sqlalchemy import select

from oauth_server import ids
from oauth_server import scopes
from oauth_server import text
from oauth_server import tokens
from oauth_server.errors import NotAllowed
from oauth_server.errors import NotFound
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.extensions import execute_core
from oauth_server.models import Company
from oauth_server.models import OAuthClient
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.models.clients import MAX_SCOPE_MAX
from oauth_server.models.clients import REFRESH_GRACE_MAX
from oauth_server.models.clients import ActiveClient
from oauth_server.models.clients import AnyClient
from oauth_server.models.clients import hash_secret
from oauth_server.services import events
from oauth_server.services import revocation
from oauth_server.services import security_log
from oauth_server.services.revocation import Via

log = logging.getLogger("oauth_server.audit")

NAME_MAX = 100
URI_MAX = 2000
MAX_REDIRECT_URIS = 10
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9._~-]{1,64}")
# Primary keys are 32-bit integers: a larger id from a URL names no row (and PostgreSQL
# would refuse the comparison rather than find nothing).


def check_one_authentication_method(
    *, basic_client_id: str | None, body_client_id: str | None, body_secret: str | None
) -> None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request.

    ``basic_client_id`` is None without HTTP Basic. Checked before any code or refresh token
    is read, so a refused request spends nothing. A body ``client_id`` equal to the Basic one
    is allowed (RFC 6749 §4.1.3 asks for it when a client does not authenticate).
    """
    if basic_client_id is None:
        return
    if body_secret is not None:
        raise ValidationFailed(
            "Use one client authentication method: HTTP Basic or client_secret in the body,"
            " not both."
        )
    if body_client_id is not None and body_client_id != basic_client_id:
        raise ValidationFailed("The client_id in the body is not the client of HTTP Basic.")


# Parameters the authorization response adds to a redirect URI: a registered URI that
# carried one of its own would answer with two values, and the app might read ours or its.
RESPONSE_PARAMETERS = ("state", "code", "iss", "error", "error_description", "error_uri")


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, field="redirect_uris")


def validate_redirect_uri(uri: str) -> str:
    """Absolute https URI, or http on a loopback host (RFC 8252 §7.3), that names one exact
    place: no fragment, no user name or password, no wildcard, a valid port, no parameter
    the authorization response adds (RFC 6749 §3.1.2, RFC 9700 §4.1).

    A loopback http URI may name a port or not: any port matches it at authorization
    (``models.clients.redirect_uri_matches``). The one check of every door that stores
    redirect URIs (Developers page, CLI, demo).
    """
    uri = (uri or "").strip()
    if not uri:
        raise _refuse("Enter a redirect URI.")
    if len(uri) > URI_MAX:
        raise _refuse(f"Redirect URIs are at most {URI_MAX} characters.")
    text.check(uri, "Redirect URIs", field="redirect_uris")
    if any(ch.isspace() for ch in uri):
        raise _refuse(f"{uri!r} must not contain spaces.")
    if "\\" in uri:
        # Browsers read a backslash as a slash; Python's parser does not, so the host we
        # would check is not the one the browser goes to.
        raise _refuse("Redirect URIs must not contain a backslash.")
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError:
        raise _refuse(f"{uri!r} is not a valid URI.") from None
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise _refuse(f"{uri!r} must be an absolute http(s) URI.")
    if "@" in parts.netloc:
        raise _refuse(f"{uri!r} must not contain a user name or password.")
    if not host:
        raise _refuse(f"{uri!r} must be an absolute http(s) URI.")
    if "*" in parts.netloc or "*" in parts.path:
        raise _refuse(f"{uri!r}: a wildcard (*) is not allowed; register each URI exactly.")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or parts.netloc.endswith(":"):
        raise _refuse(f"{uri!r} has an invalid port: use a number from 1 to 65535.")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise _refuse(f"{uri!r}: plain http is allowed only on 127.0.0.1 or localhost.")
    if parts.fragment or "#" in uri:
        raise _refuse(f"{uri!r} must not have a fragment.")
    own = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True) if k in RESPONSE_PARAMETERS]
    if own:
        raise _refuse(f"{uri!r} must not carry its own {own[0]!r} parameter: the server adds it.")
    return uri


def check_refresh_grace(seconds: object) -> int:
    """A refresh grace period as stored: whole seconds from 0 to REFRESH_GRACE_MAX.

    The one check of every door that sets it (Developers page, CLI): a longer window would
    keep a spent refresh token useful long after an agent's processes raced on it.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValidationFailed(_GRACE_MESSAGE, field="refresh_grace_seconds")
    if not 0 <= seconds <= REFRESH_GRACE_MAX:
        raise ValidationFailed(_GRACE_MESSAGE, field="refresh_grace_seconds")
    return seconds


_GRACE_MESSAGE = (
    f"Refresh grace period must be a whole number of seconds from 0 to {REFRESH_GRACE_MAX}."
)


def check_max_scope(requested: list[str] | str | None) -> str | None:
    """An app's maximum scope set as stored: well-formed scopes a partner app may hold,
    space-separated, each once; None (no maximum) for none at all.

    The one check of every door that sets it (Developers page, CLI).
    """
    items = scopes.parse(requested if isinstance(requested, str) else " ".join(requested or ()))
    bad = [s for s in items if not scopes.is_well_formed(s) or s in scopes.PERSONAL_ONLY]
    if bad:
        raise ValidationFailed(
            f"{bad[0][:40]!r} is not a scope a partner app can be granted.", field="max_scope"
        )
    stored = " ".join(items)
    if len(stored) > MAX_SCOPE_MAX:
        raise ValidationFailed("The maximum scope is too long.", field="max_scope")
    return stored or None


def register_client(
    *,
    name: str,
    redirect_uris: list[str],
    public: bool = False,
    introspection: bool = False,
    refresh_grace_seconds: int = 0,
    max_scope: list[str] | str | None = None,
    owner_company: Company | None = None,
    actor: Teammate | None = None,
) -> tuple[OAuthClient, str | None]:
    """Register a partner app; return it and its secret (None for a public app).

    The secret exists only in this return value: we keep its keyed hash.
    """
    grace = check_refresh_grace(refresh_grace_seconds)
    maximum = check_max_scope(max_scope)
    name = text.name(name, "Name", limit=NAME_MAX)
    uris = list(dict.fromkeys(validate_redirect_uri(u) for u in redirect_uris))
    if not uris:
        raise ValidationFailed("Register at least one redirect URI.", field="redirect_uris")
    if len(uris) > MAX_REDIRECT_URIS:
        raise ValidationFailed(
            f"Register at most {MAX_REDIRECT_URIS} redirect URIs.", field="redirect_uris"
        )
    if public and introspection:
        raise ValidationFailed(
            "Only a confidential app can introspect tokens.", field="introspection"
        )
    secret = None if public else tokens.generate(tokens.Kind.CLIENT_SECRET)
    client = OAuthClient(
        client_id="wsp_app_" + secrets.token_hex(12),
        name=name,
        owner_company_id=owner_company.id if owner_company else None,
        secret_hash=hash_secret(secret) if secret else None,
        is_public=public,
        redirect_uris=uris,
        introspection=introspection,
        refresh_grace_seconds=grace,
        max_scope=maximum,
    )
    db.session.add(client)
    if owner_company is not None:
        db.session.flush()  # its id, for the security log
        _record(security_log.EventType.CLIENT_REGISTERED, client, actor, settings=bool(actor))
    db.session.commit()
    log.info(
        "client registered",
        extra={"client_id": client.client_id, "actor_id": actor.id if actor else None},
    )
    return client, secret


def _record(
    event: security_log.EventType, client: OAuthClient, actor: Teammate | None, *, settings: bool
) -> None:
    """The security log row of a change to an app, in its company's log (an app of the CLI
    belongs to no company's log): through the Developers page, else by the system."""
    if client.owner_company_id is not None:
        security_log.record(
            event,
            client.owner_company_id,
            actor=security_log.Actor.of(actor),
            door=security_log.Door.SETTINGS if settings else security_log.Door.SYSTEM,
            client=client.id,
        )


# Built once: the lookup of every request at the protocol endpoints only binds its value.
# Plain columns, not the mapped row: building and tracking an ORM object cost more than
# the query (about 0.1 ms a request on PostgreSQL).
_CLIENTS = OAuthClient.__table__.c
_ACTIVE_BY_CLIENT_ID = select(*(_CLIENTS[f.name] for f in dataclasses.fields(ActiveClient))).where(
    _CLIENTS.client_id == bindparam("client_id"), _CLIENTS.deleted_at.is_(None)
)


def find_active(client_id: str | None) -> ActiveClient | None:
    """A live app by its client_id; None for anything that cannot be one (PostgreSQL refuses
    a NUL in a query parameter, so odd strings never reach the database).

    A query every time, never a cache: a deleted app or a rotated secret is refused by
    every worker at its next request.
    """
    if not isinstance(client_id, str) or not CLIENT_ID_RE.fullmatch(client_id):
        return None
    row = execute_core(_ACTIVE_BY_CLIENT_ID, {"client_id": client_id}).first()
    return ActiveClient(*row) if row else None


def registered_by(client: AnyClient) -> Company | None:
    """The company whose admin registered the app under Developers; None for an app the
    server operator made (``clients create``, the demo)."""
    if client.owner_company_id is None:
        return None
    return db.session.get(Company, client.owner_company_id)


def redirect_host(uri: str) -> str:
    """Where a redirect URI sends the browser, as a person reads it: the host, and the port
    when the URI names one."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address, written as in a URI
    try:
        port = parts.port
    except ValueError:  # only a URI stored before the port check could have one
        port = None
    return f"{host}:{port}" if port else host


def company_clients(company: Company) -> list[OAuthClient]:
    return list(
        db.session.scalars(
            select(OAuthClient)
            .where(OAuthClient.owner_company_id == company.id, OAuthClient.deleted_at.is_(None))
            .order_by(OAuthClient.id.desc())
        )
    )


def company_client(company: Company, client_pk: int) -> OAuthClient:
    """One of the company's live apps; NotFound for another company's, a deleted one, or
    an id no row can have."""
    if not ids.is_id(client_pk):
        raise NotFound("No such app.")
    client = db.session.scalar(
        select(OAuthClient).where(
            OAuthClient.owner_company_id == company.id,
            OAuthClient.id == client_pk,
            OAuthClient.deleted_at.is_(None),
        )
    )
    if client is None:
        raise NotFound("No such app.")
    return client


def rotate_secret(client: OAuthClient, *, actor: Teammate | None) -> str:
    """A new secret replaces the old one at once; the old one stops working."""
    if client.is_public:
        raise NotAllowed("A public app has no secret.")
    secret = tokens.generate(tokens.Kind.CLIENT_SECRET)
    client.secret_hash = hash_secret(secret)
    client.secret_rotated_at = utcnow()
    _record(security_log.EventType.CLIENT_SECRET_ROTATED, client, actor, settings=bool(actor))
    db.session.commit()
    log.info(
        "client secret rotated",
        extra={"client_id": client.client_id, "actor_id": actor.id if actor else None},
    )
    return secret


def set_refresh_grace(client: OAuthClient, seconds: object, *, actor: Teammate | None) -> None:
    """Change an app's refresh grace period; the next refresh reads it.

    A shorter period (0 included) applies at once to refresh tokens already spent: the
    window is always measured with the app's current value.
    """
    client.refresh_grace_seconds = check_refresh_grace(seconds)
    db.session.commit()
    log.info(
        "client refresh grace changed",
        extra={
            "client_id": client.client_id,
            "actor_id": actor.id if actor else None,
            "refresh_grace_seconds": client.refresh_grace_seconds,
        },
    )


def set_max_scope(client: OAuthClient, requested: str | None, *, actor: Teammate | None) -> None:
    """Change an app's maximum scope set; its next authorization and refresh read it."""
    client.max_scope = check_max_scope(requested)
    db.session.commit()
    log.info(
        "client max scope changed",
        extra={
            "client_id": client.client_id,
            "actor_id": actor.id if actor else None,
            "max_scope": client.max_scope,
        },
    )


def delete_client(client: OAuthClient, *, actor: Teammate | None, via: Via) -> None:
    """Delete an app: revoke its grants in every company and its pending codes.

    The app is marked deleted (and its secret dropped) first, in its own commit: from then
    on it cannot authenticate, redeem a code or refresh, so no grant can appear after the
    grants below are revoked. Then its grants, their tokens and its pending codes, in
    one transaction whatever their number. The row is kept: its grants are history.
    """
    client.deleted_at = utcnow()
    client.secret_hash = None
    _record(security_log.EventType.CLIENT_DELETED, client, actor, settings=via == Via.SETTINGS)
    events.drop_pending(client.id)  # and no new event: the app is deleted
    db.session.commit()
    revoked = revocation.revoke_all_for(client, actor=actor, via=via)
    db.session.commit()
    log.info(
        "client deleted",
        extra={
            "client_id": client.client_id,
            "actor_id": actor.id if actor else None,
            "grants_revoked": revoked,
        },
    )
