"""Client ID Metadata Documents (OAuth WG draft, recommended by MCP): an app whose
client_id is an https URL is described by the JSON document at that URL.

No registration: an agent names its document, and the server fetches it (through
``outbound``, the safe fetcher) and checks it: ``client_id`` equal to the URL, a
``client_name``, ``redirect_uris``, and a public client (``token_endpoint_auth_method``
``none``, no secret). Its loopback redirect URIs match on any port
(``models.clients.redirect_uri_matches``): a static document cannot know the port an
agent will listen on.

The document is kept as an ``oauth_clients`` row whose client_id is the URL, so grants,
Apps with Access and revocation treat it as any other app. ``metadata_expires_at`` says
how long the stored copy is used: the document's ``Cache-Control`` max-age, within
``MIN_CACHE`` and ``MAX_CACHE`` (``no-store`` or ``no-cache``: the minimum).

Failures are never stored: a fresh row keeps working until it expires; an expired row
whose document can no longer be fetched or checked is refused at authorization, so a
document taken down stops new consents within ``MAX_CACHE``. Only the authorization
endpoint fetches; the token, revocation and introspection endpoints use the stored row
(a code or token exists only after an authorization read the document), so they make
no outbound request and do not depend on the app's website.

Fetches are limited per host (``OUTBOUND_FETCHES_PER_HOST``, in the rate-limit storage
shared by every worker): a crafted authorization link cannot make the server hammer a
site.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from limits import parse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from oauth_server import clock
from oauth_server import outbound
from oauth_server import text
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.extensions import limiter
from oauth_server.models import OAuthClient
from oauth_server.models.clients import CLIENT_ID_MAX
from oauth_server.models.clients import ActiveClient
from oauth_server.services import clients

log = logging.getLogger("oauth_server.audit")

MIN_CACHE = timedelta(minutes=5)
MAX_CACHE = timedelta(hours=24)
DEFAULT_CACHE = timedelta(hours=1)
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


class MetadataRefused(Exception):
    """The document could not be used; the message says why (plain ASCII, no quotes)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def looks_like_url(client_id: object) -> bool:
    """A client_id taken for a metadata document URL: generated ids never contain ``:``."""
    return isinstance(client_id, str) and client_id.lower().startswith(("https://", "http://"))


def check_url(url: str) -> str:
    """The draft's rules for a client identifier URL: https, a path, no fragment, no user
    name or password, no dot segments (plain http only to loopback, with the development
    setting)."""
    if len(url) > CLIENT_ID_MAX or text.problem(url) is not None:
        raise MetadataRefused(f"The client_id URL must be at most {CLIENT_ID_MAX} characters.")
    if any(ch.isspace() for ch in url) or "\\" in url or "#" in url:
        raise MetadataRefused("The client_id URL must have no spaces, backslash or fragment.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on an invalid port)
    except ValueError:
        raise MetadataRefused("The client_id is not a valid URL.") from None
    loopback_http = (
        parts.scheme == "http"
        and parts.hostname in ("127.0.0.1", "localhost", "::1")
        and outbound.allow_loopback()
    )
    if parts.scheme != "https" and not loopback_http:
        raise MetadataRefused("The client_id URL must use https.")
    if "@" in parts.netloc or not parts.hostname:
        raise MetadataRefused("The client_id URL must name a host, and no user name or password.")
    if parts.path in ("", "/"):
        raise MetadataRefused("The client_id URL must have a path.")
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        raise MetadataRefused("The client_id URL must not contain . or .. path segments.")
    return url


def cache_for(cache_control: str) -> timedelta:
    """How long a document is used before it is fetched again."""
    if _NO_CACHE.search(cache_control):
        return MIN_CACHE
    found = _MAX_AGE.search(cache_control)
    if not found:
        return DEFAULT_CACHE
    return min(max(timedelta(seconds=int(found.group(1))), MIN_CACHE), MAX_CACHE)


def _field(document: dict[str, Any], name: str) -> Any:
    return document.get(name)


def validate(url: str, document: Any) -> tuple[str, list[str]]:
    """(client_name, redirect_uris) of a document fit for ``url``."""
    if not isinstance(document, dict):
        raise MetadataRefused("The document is not a JSON object.")
    if _field(document, "client_id") != url:
        raise MetadataRefused("The document's client_id is not the URL it was fetched from.")
    try:
        name = text.name(_field(document, "client_name") or "", "client_name", limit=100)
    except (ValidationFailed, TypeError, AttributeError):
        raise MetadataRefused(
            "The document needs a client_name of at most 100 characters."
        ) from None
    if _field(document, "token_endpoint_auth_method") != "none":
        raise MetadataRefused(
            "The document must declare a public client: token_endpoint_auth_method none."
        )
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise MetadataRefused("The document must not contain a client secret.")
    return name, _redirect_uris(_field(document, "redirect_uris"))


def _redirect_uris(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(u, str) for u in value):
        raise MetadataRefused("The document needs redirect_uris, a list of URIs.")
    if len(value) > clients.MAX_REDIRECT_URIS:
        raise MetadataRefused(f"The document lists more than {clients.MAX_REDIRECT_URIS} URIs.")
    try:
        return list(dict.fromkeys(clients.validate_redirect_uri(u) for u in value))
    except ValidationFailed:
        raise MetadataRefused("The document lists a redirect URI that is not allowed.") from None


def _spend_fetch(host: str) -> None:
    item = parse(_fetch_limit())
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    try:
        allowed = limiter.limiter.hit(item, prefix, "client-metadata-host", host.lower())
    except Exception:
        # The rate-limit storage is down: no budget can be counted, so nothing is fetched
        # (closed, like every refusal here: an error page that asks to try again).
        log.warning("client metadata fetch limit unavailable", exc_info=True)
        allowed = False
    if not allowed:
        raise MetadataRefused(f"Too many metadata documents fetched from {host}: try again later.")


def _fetch_limit() -> str:
    limit: str = current_app.config.get("OUTBOUND_FETCHES_PER_HOST", "10 per minute")
    return limit


def fetch(url: str) -> tuple[str, list[str], timedelta]:
    """Fetch and check the document: (client_name, redirect_uris, how long to keep it)."""
    _spend_fetch(urlsplit(url).hostname or "")
    try:
        fetched = outbound.get_json(url)
    except outbound.OutboundError as problem:
        raise MetadataRefused(problem.message) from None
    try:
        document = json.loads(fetched.body)
    except (ValueError, UnicodeDecodeError):
        raise MetadataRefused("The document is not valid JSON.") from None
    name, uris = validate(url, document)
    return name, uris, cache_for(fetched.cache_control)


def _stored(url: str) -> OAuthClient | None:
    return db.session.scalar(select(OAuthClient).where(OAuthClient.client_id == url))


def _active(row: OAuthClient) -> ActiveClient:
    return ActiveClient(
        id=row.id,
        client_id=row.client_id,
        name=row.name,
        owner_company_id=row.owner_company_id,
        secret_hash=row.secret_hash,
        is_public=row.is_public,
        redirect_uris=tuple(row.redirect_uris),
        introspection=row.introspection,
        deleted_at=row.deleted_at,
        metadata_expires_at=row.metadata_expires_at,
    )


def _is_fresh(row: OAuthClient, now: datetime) -> bool:
    return row.metadata_expires_at is not None and row.metadata_expires_at > now


def _store(
    url: str, row: OAuthClient | None, name: str, uris: list[str], expires: datetime
) -> OAuthClient:
    if row is None:
        row = OAuthClient(client_id=url, is_public=True, secret_hash=None, introspection=False)
        db.session.add(row)
    row.name, row.redirect_uris, row.metadata_expires_at = name, uris, expires
    try:
        db.session.commit()
    except IntegrityError:
        # Another request stored the same document first: use its row.
        db.session.rollback()
        row = _stored(url)
        if row is None:  # pragma: no cover - the conflict was that row
            raise
    return row


def resolve(client_id: str, *, fetch_if_needed: bool) -> ActiveClient | None:
    """The app a metadata document URL names, fetched (or refetched) when ``fetch_if_needed``
    and the stored copy has expired; MetadataRefused says why it cannot be used.

    Without ``fetch_if_needed`` (every endpoint but authorization), the stored row or None.
    """
    url = check_url(client_id)
    row = _stored(url)
    if row is not None and (row.deleted_at is not None or row.metadata_expires_at is None):
        return None  # a deleted app, or (never) a registered one by that id
    now = clock.now()
    if row is not None and (not fetch_if_needed or _is_fresh(row, now)):
        return _active(row)
    if not fetch_if_needed:
        return None
    name, uris, keep = fetch(url)
    row = _store(url, row, name, uris, now + keep)
    log.info("client metadata document fetched", extra={"client_id": url})
    return _active(row)
