"""Partner app registration: redirect URIs, secrets (shown once), rotation, deletion."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import re
import secrets
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import update

from oauth_server import text
from oauth_server import tokens
from oauth_server.errors import NotAllowed
from oauth_server.errors import NotFound
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import Company
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import Teammate
from oauth_server.models.base import ID_MAX
from oauth_server.models.base import utcnow
from oauth_server.models.clients import ActiveClient
from oauth_server.models.clients import ClientRules

log = logging.getLogger("oauth_server.audit")

NAME_MAX = 100
URI_MAX = 2000
MAX_REDIRECT_URIS = 10
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9._~-]{1,64}")
# Primary keys are 32-bit integers: a larger id from a URL names no row (and PostgreSQL
# would refuse the comparison rather than find nothing).


def _secret_key() -> bytes:
    return str(current_app.config["SECRET_KEY"]).encode("utf-8")


def hash_secret(secret: str) -> str:
    """A keyed hash (HMAC-SHA256): fast, and useless without the server's key."""
    return hmac.new(_secret_key(), secret.encode("utf-8"), hashlib.sha256).hexdigest()


def secret_matches(client: ClientRules, secret: str) -> bool:
    if client.is_public or client.secret_hash is None or client.deleted_at is not None:
        return False
    if tokens.kind_of(secret) is not tokens.Kind.CLIENT_SECRET:
        return False  # a personal token (or anything else) is never a client secret
    return hmac.compare_digest(client.secret_hash, hash_secret(secret))


def validate_redirect_uri(uri: str) -> str:
    """Absolute https URI, or http on a loopback host (RFC 8252 §7.3); no fragment."""
    uri = (uri or "").strip()
    if not uri:
        raise ValidationFailed("Enter a redirect URI.", field="redirect_uris")
    if len(uri) > URI_MAX:
        raise ValidationFailed(
            f"Redirect URIs are at most {URI_MAX} characters.", field="redirect_uris"
        )
    text.check(uri, "Redirect URIs", field="redirect_uris")
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError:
        raise ValidationFailed(f"{uri!r} is not a valid URI.", field="redirect_uris") from None
    if parts.scheme not in ("https", "http") or not parts.netloc or not host:
        raise ValidationFailed(f"{uri!r} must be an absolute http(s) URI.", field="redirect_uris")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValidationFailed(
            f"{uri!r}: plain http is allowed only on 127.0.0.1 or localhost.",
            field="redirect_uris",
        )
    if parts.fragment or "#" in uri:
        raise ValidationFailed(f"{uri!r} must not have a fragment.", field="redirect_uris")
    if any(ch.isspace() for ch in uri):
        raise ValidationFailed(f"{uri!r} must not contain spaces.", field="redirect_uris")
    return uri


def register_client(
    *,
    name: str,
    redirect_uris: list[str],
    public: bool = False,
    introspection: bool = False,
    owner_company: Company | None = None,
    actor: Teammate | None = None,
) -> tuple[OAuthClient, str | None]:
    """Register a partner app; return it and its secret (None for a public app).

    The secret exists only in this return value: we keep its keyed hash.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Name is required.", field="name")
    if len(name) > NAME_MAX:
        raise ValidationFailed(f"Name must be at most {NAME_MAX} characters.", field="name")
    text.check(name, "Name", field="name")
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
    )
    db.session.add(client)
    db.session.commit()
    log.info(
        "client registered",
        extra={"client_id": client.client_id, "actor_id": actor.id if actor else None},
    )
    return client, secret


# Built once: the lookup of every request at the protocol endpoints only binds its value.
# Plain columns, not the mapped row: building and tracking an ORM object cost more than
# the query (about 0.1 ms a request on PostgreSQL).
_CLIENTS = OAuthClient.__table__.c
_ACTIVE_BY_CLIENT_ID = select(
    *(_CLIENTS[f.name] for f in dataclasses.fields(ActiveClient))
).where(_CLIENTS.client_id == bindparam("client_id"), _CLIENTS.deleted_at.is_(None))


def find_active(client_id: str | None) -> ActiveClient | None:
    """A live app by its client_id; None for anything that cannot be one (PostgreSQL refuses
    a NUL in a query parameter, so odd strings never reach the database).

    A query every time, never a cache: a deleted app or a rotated secret is refused by
    every worker at its next request.
    """
    if not isinstance(client_id, str) or not CLIENT_ID_RE.fullmatch(client_id):
        return None
    row = db.session.execute(_ACTIVE_BY_CLIENT_ID, {"client_id": client_id}).first()
    return ActiveClient(*row) if row else None


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
    if not 0 < client_pk <= ID_MAX:
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
    db.session.commit()
    log.info(
        "client secret rotated",
        extra={"client_id": client.client_id, "actor_id": actor.id if actor else None},
    )
    return secret


def delete_client(client: OAuthClient, *, actor: Teammate | None, via: str) -> None:
    """Delete an app: revoke its grants in every company and its pending codes.

    The app is marked deleted (and its secret dropped) first, in its own commit: from then
    on it cannot authenticate, redeem a code or refresh, so no grant can appear after the
    grants below are listed. The row is kept: its grants are history.
    """
    from oauth_server.services import revocation

    now = utcnow()
    client.deleted_at = now
    client.secret_hash = None
    db.session.execute(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.client_pk == client.id,
            AuthorizationCode.used_at.is_(None),
            AuthorizationCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    db.session.commit()
    grants = db.session.scalars(
        select(OAuthGrant).where(OAuthGrant.client_pk == client.id, OAuthGrant.revoked_at.is_(None))
    ).all()
    for grant in grants:
        revocation.revoke(grant, actor=actor, via=via)
    log.info(
        "client deleted",
        extra={
            "client_id": client.client_id,
            "actor_id": actor.id if actor else None,
            "grants_revoked": len(grants),
        },
    )
