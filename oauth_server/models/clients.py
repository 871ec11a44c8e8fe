"""Registered partner apps (OAuth clients)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Union
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from oauth_server import tokens
from oauth_server.models.base import Base
from oauth_server.models.base import utcnow

if TYPE_CHECKING:
    from oauth_server.models.company import Company

CLIENT_ID_MAX = 255
GRANT_TYPES = ("authorization_code", "refresh_token")
# A per-app refresh grace period, in seconds: 0 (none) to REFRESH_GRACE_MAX.
REFRESH_GRACE_MAX = 120
MAX_SCOPE_MAX = 1000
EVENTS_URL_MAX = 2000
# Loopback hosts whose http redirect URIs match on any port (RFC 8252 §7.3), as written.
ANY_PORT_HOSTS = ("127.0.0.1", "[::1]", "localhost")
_AUTHORITY_ENDS = ("/", "?", "#")


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


def _is_port(text: str) -> bool:
    """A port a browser can be sent to: 1 to 65535 in ASCII digits."""
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit() and 0 < int(text) <= 65535


def _loopback_place(uri: str) -> tuple[str, str] | None:
    """``(host, everything after the port)`` of an http URI on a loopback host; None for
    any other URI, or one with a user name or an invalid port.

    The host is compared as written: ``LOCALHOST`` or ``0x7f.1`` are not loopback here.
    """
    prefix = "http://"
    if not uri.startswith(prefix):
        return None
    ends = [i for i in (uri.find(ch, len(prefix)) for ch in _AUTHORITY_ENDS) if i >= 0]
    end = min(ends, default=len(uri))
    authority, rest = uri[len(prefix) : end], uri[end:]
    for host in ANY_PORT_HOSTS:
        if authority == host:
            return host, rest
        if authority.startswith(host + ":"):
            return (host, rest) if _is_port(authority[len(host) + 1 :]) else None
    return None


def redirect_uri_matches(registered: str, presented: str) -> bool:
    """Whether an authorization request's redirect URI is the registered one.

    Exact string match (RFC 9700 §4.1.3), except the port of an http URI on 127.0.0.1,
    [::1] or localhost: a native app listens on whichever port the system gives it, so
    any valid port matches (RFC 8252 §7.3). The host, path, query and everything else
    still match exactly, and the three loopback hosts never stand in for one another.
    """
    if presented == registered:
        return True
    place = _loopback_place(presented)
    return place is not None and place == _loopback_place(registered)


class ClientRules:
    """Authlib's ``ClientMixin``: the rules of an app, written once for its mapped row
    (``OAuthClient``) and for the snapshot a protocol request reads (``ActiveClient``)."""

    if TYPE_CHECKING:
        client_id: str
        secret_hash: str | None
        is_public: bool
        redirect_uris: Sequence[str]
        deleted_at: datetime | None
        metadata_expires_at: datetime | None
        max_scope: str | None

    @property
    def metadata_host(self) -> str | None:
        """The host of a client_id that is a metadata document URL (the one part of such an
        app a person can trust: its name is whatever the document says); None for an app
        registered here."""
        if self.metadata_expires_at is None:
            return None
        return urlsplit(self.client_id).hostname or None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        # No fallback: every authorization request must name its exact redirect URI.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        # Scopes are checked against the company and the teammate by our consent policy.
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(redirect_uri_matches(uri, redirect_uri) for uri in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(self, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.deleted_at is not None:
            return False
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    @property
    def skips_repeat_consent(self) -> bool:
        """A request for scopes already granted may skip the consent page: only for an app
        that authenticates with a secret, so that an app pretending to be it (anyone can
        send its client_id and a redirect it registered) still cannot redeem the code.
        A public app (SPA, native, a client metadata document) always shows the page."""
        return not self.is_public and self.secret_hash is not None and self.deleted_at is None

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


@dataclass(frozen=True)
class ActiveClient(ClientRules):
    """A live app as the protocol endpoints read it: one plain row, no ORM object
    (services/clients.find_active). Every request reads it again: a deleted app or a
    rotated secret is refused by every worker at its next request."""

    id: int
    client_id: str
    name: str
    owner_company_id: int | None
    secret_hash: str | None
    is_public: bool
    redirect_uris: Sequence[str]
    introspection: bool
    deleted_at: datetime | None
    refresh_grace_seconds: int
    metadata_expires_at: datetime | None = None
    max_scope: str | None = None


# Either form of an app, where only its columns and rules are read.
AnyClient = Union["OAuthClient", ActiveClient]


class OAuthClient(Base, ClientRules):
    """A partner app. Confidential apps hold a secret; public ones (SPAs, native) do not.

    Authlib reads clients through the ``ClientMixin`` methods of ``ClientRules``.
    """

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A generated id, or the https URL of the app's metadata document.
    client_id: Mapped[str] = mapped_column(String(CLIENT_ID_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # The company whose admin registered it under Developers; None for operator-made apps.
    owner_company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    # HMAC-SHA256 of the secret: secrets are high-entropy, a password hash would only add cost.
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    is_public: Mapped[bool] = mapped_column(default=False)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    introspection: Mapped[bool] = mapped_column(default=False)
    # How long a just-spent refresh token may be presented again for the same successor
    # pair (several processes of one agent refreshing at once); 0: never, any reuse revokes.
    refresh_grace_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    secret_rotated_at: Mapped[datetime | None]
    # Deleted apps are kept (their grants are history) but can do nothing.
    deleted_at: Mapped[datetime | None]
    # Set for an app known by its Client ID Metadata Document (services/client_metadata):
    # until then the stored copy of the document is used, after it is fetched again.
    metadata_expires_at: Mapped[datetime | None]
    # The most this app may ask for (space-separated scopes; a read-only scope counts as
    # within its bare one); None: no maximum, only the workspace and the teammate limit it.
    max_scope: Mapped[str | None] = mapped_column(String(MAX_SCOPE_MAX))
    # Revocation events (services/events.py): where they are POSTed, and the Standard
    # Webhooks signing secret, encrypted (the vault); during a rotation's overlap the
    # previous secret signs too, until ``events_previous_until``.
    events_url: Mapped[str | None] = mapped_column(String(EVENTS_URL_MAX))
    events_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    events_previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    events_previous_until: Mapped[datetime | None]

    owner_company: Mapped[Company | None] = relationship()

    def __repr__(self) -> str:
        return f"<OAuthClient {self.client_id} {self.name!r}>"
