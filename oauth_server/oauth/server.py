"""Authlib's authorization server, with our storage and the policies Authlib leaves open.

What we change from Authlib's defaults, and why (RFC 9700):
- PKCE S256 is required of every client, confidential too; ``plain`` is refused.
- A code is redeemed with one conditional UPDATE (not read-then-delete), so a replay or
  a concurrent second redemption fails and revokes what the code issued; a failed
  verifier check burns the code.
- No default redirect URI: the authorization request must name one, matched exactly but
  for the port of an http loopback URI (RFC 8252 §7.3); the token request repeats it.
- Only ``authorization_code`` and ``refresh_token`` grants exist; refresh tokens rotate.
  An app may have a refresh grace period: its just-spent refresh token presented again
  within it answers with the same new pair instead of revoking the grant.
"""

from __future__ import annotations

import re
from typing import Any

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import InvalidScopeError
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749 import UnsupportedResponseTypeError
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter as _IssuerParameter
from flask import Flask
from flask import current_app
from flask import request as flask_request

from oauth_server import logs
from oauth_server import ratelimits
from oauth_server import resource_indicators
from oauth_server import scopes
from oauth_server import tokens
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import OAuthToken
from oauth_server.models.clients import ActiveClient
from oauth_server.models.clients import AnyClient
from oauth_server.models.teammate import TeammateRules
from oauth_server.services import client_metadata
from oauth_server.services import clients
from oauth_server.services import consent
from oauth_server.services import oauth_tokens
from oauth_server.services import revocation
from oauth_server.services.oauth_tokens import ClaimedCode
from oauth_server.services.oauth_tokens import ClaimedRefresh
from oauth_server.services.oauth_tokens import GraceReplay
from oauth_server.services.presented import PresentedToken

CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
ALL_AUTH_METHODS = [*CONFIDENTIAL_AUTH_METHODS, "none"]
_NOT_IN_ERROR_TEXT = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def quoted(value: str | None, limit: int = 40) -> str:
    """Request input as it may appear in an error_description (RFC 6749 §5.2: a subset of
    ASCII; Authlib raises ValueError, a 500, on anything else)."""
    return "'" + _NOT_IN_ERROR_TEXT.sub("?", (value or "")[:limit]) + "'"


def checked_redirect_uri(server: Any, request: OAuth2Request) -> str | None:
    """The request's redirect URI if it is registered for its client, else None.

    An error may be sent back only there (RFC 6749 §4.1.2.1); no fallback to a registered
    URI when none is sent (RFC 9700 §2.1).
    """
    client = server.query_client(request.payload.client_id)
    uri = request.payload.redirect_uri
    if client is not None and uri and client.check_redirect_uri(uri):
        return str(uri)
    return None


def _basic_client_id(headers: Any) -> str | None:
    """The client_id of HTTP Basic client authentication ("" if it names none); None
    without it. A malformed header never gets here (views refuse it first)."""
    scheme, _, _credentials = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    client_id, _secret = extract_basic_authorization(headers)
    return client_id or ""


class AuthorizationServer(FlaskAuthorizationServer):
    def query_client(self, client_id: str) -> ActiveClient | None:
        """A registered app, or one known by its Client ID Metadata Document (a URL).

        Only the authorization endpoint fetches a document; a document that cannot be used
        is an InvalidClientError that says why, which the endpoint shows as an error page
        (the app's redirect URIs are not known, so nothing is sent back to them).
        """
        if not client_metadata.looks_like_url(client_id):
            return clients.find_active(client_id)
        at_authorization = flask_request.endpoint == "oauth.authorize"
        try:
            return client_metadata.resolve(client_id, fetch_if_needed=at_authorization)
        except client_metadata.MetadataRefused as problem:
            if not at_authorization:
                return None
            raise InvalidClientError(
                description="The app's metadata document could not be used: " + problem.message
            ) from None

    def authenticate_client(self, request: Any, methods: Any, endpoint: str = "token") -> Any:
        # Every form endpoint (token, revocation, introspection) authenticates here first.
        try:
            clients.check_one_authentication_method(
                basic_client_id=_basic_client_id(request.headers),
                body_client_id=request.form.get("client_id"),
                body_secret=request.form.get("client_secret"),
            )
        except ValidationFailed as problem:
            raise InvalidRequestError(problem.message) from None
        client = super().authenticate_client(request, methods, endpoint)
        logs.annotate(client_id=client.client_id)
        return client

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        code: ClaimedCode | None = getattr(request, "authorization_code", None)
        previous: ClaimedRefresh | None = getattr(request, "refresh_token", None)
        claimed = code or previous
        if claimed is None:  # pragma: no cover - Authlib calls us from the two grants only
            raise ValueError("a token needs a code or a previous token")
        # The company's budget at the token endpoint, known only now; a breach raises
        # before anything is committed (the claim of the code or refresh token included).
        ratelimits.spend_token_issue(claimed.company_id)
        bound = claimed.resource if isinstance(claimed, ClaimedCode) else claimed.audience
        audience = resource_indicators.narrowed(bound, asked_resources(request))
        token_id = oauth_tokens.store_claimed(
            token,
            client_pk=request.client.id,
            claimed=claimed,
            audience=audience,
            grace_seconds=request.client.refresh_grace_seconds,
        )
        logs.annotate(company_id=claimed.company_id, token_id=token_id)  # the view commits

    def get_authorization_grant(self, request: OAuth2Request) -> Any:
        # Authlib builds its unsupported_response_type description from the raw value (a
        # quote in it is a 500) and treats a missing response_type the same way; RFC 6749
        # §4.1.2.1 calls that invalid_request.
        response_type = request.payload.response_type
        if not response_type:
            raise InvalidRequestError(
                "Missing 'response_type'.", redirect_uri=checked_redirect_uri(self, request)
            )
        if response_type != "code":
            raise UnsupportedResponseTypeError(
                quoted(response_type),
                description=f"response_type {quoted(response_type)} is not supported: use 'code'.",
                redirect_uri=checked_redirect_uri(self, request),
            )
        return super().get_authorization_grant(request)

    def validate_requested_scope(self, scope: str | None) -> None:
        # Company- and teammate-dependent scope checks happen in the consent view; here
        # we only refuse strings that are no scope of ours at all, or none a partner app
        # can ever hold (``tokens``, personal tokens only).
        for item in scopes.parse(scope):
            if not scopes.is_well_formed(item) or item in scopes.PERSONAL_ONLY:
                raise InvalidScopeError(f"Unknown scope {quoted(item)}.")


class S256CodeChallenge(CodeChallenge):
    """PKCE for every client, S256 only (RFC 9700 §2.1.1)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    #: Set by the consent view: what the teammate actually granted.
    granted_scope: str | None = None
    #: Set by the consent view: the resources the request named (RFC 8707), stored form.
    resources: str | None = None

    def validate_token_request(self) -> None:
        asked = asked_resources(self.request)  # malformed: refused before the claim
        super().validate_token_request()
        # Within what the authorization named; the code is spent either way.
        resource_indicators.narrowed(self.request.authorization_code.resource, asked)

    @staticmethod
    def validate_authorization_redirect_uri(request: OAuth2Request, client: AnyClient) -> str:
        """A registered URI the request must name (``redirect_uri_matches``: exact, but for
        a loopback port); the error never quotes it (a quote or non-ASCII character in an
        error_description is a 500 in Authlib)."""
        uri = request.payload.redirect_uri
        if not uri:
            raise InvalidRequestError("Missing 'redirect_uri'.", state=request.payload.state)
        if not client.check_redirect_uri(uri):
            raise InvalidRequestError(
                "This redirect_uri is not registered for this client.",
                state=request.payload.state,
            )
        return str(uri)

    def generate_authorization_code(self) -> str:
        return tokens.generate(tokens.Kind.CODE)

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        consent.store_code(
            code,
            client=request.client,
            teammate=request.user,
            redirect_uri=request.payload.redirect_uri,
            scope=self.granted_scope or "",
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            resource=self.resources,
        )

    def query_authorization_code(self, code: str, client: AnyClient) -> ClaimedCode | None:
        return oauth_tokens.claim_code(code, client)

    def delete_authorization_code(self, authorization_code: ClaimedCode) -> None:
        """Nothing to delete: the code was marked used when it was claimed."""

    def authenticate_user(self, authorization_code: ClaimedCode) -> int | None:
        """The approving teammate (by id) if still active; the claim read it. A code of a
        deactivated teammate stays spent and issues nothing."""
        if not TeammateRules.acts(authorization_code.teammate_active):
            return None
        return authorization_code.teammate_id


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation (RFC 9700 §4.14.2)

    def validate_token_request(self) -> None:
        client = self._validate_request_client()
        self.request.client = client
        value = self.request.form.get("refresh_token")
        if not value:
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        # A requested scope is checked before the claim: a refused request (asking for more
        # than the token has) must not spend the refresh token, or the client's next,
        # correct refresh would count as reuse and revoke the grant. Without a scope there
        # is nothing to check, and the claim is the only read.
        # An app with a maximum scope set is checked against it the same way, with or
        # without a requested scope (the maximum may have shrunk since the grant).
        asked = asked_resources(self.request)
        if self.request.payload.scope or asked or client.max_scope is not None:
            unspent = oauth_tokens.peek_refresh(value, client)
            if unspent is not None:
                self._validate_token_scope(unspent)
                self._validate_maximum(unspent, client.max_scope)
                resource_indicators.narrowed(unspent.audience, asked)
        token = self.authenticate_refresh_token(value)
        if token is None or not token.check_client(client):
            raise InvalidGrantError("Invalid, expired, used or revoked refresh token.")
        self.request.refresh_token = token

    def authenticate_refresh_token(self, refresh_token: str) -> ClaimedRefresh | GraceReplay | None:
        return oauth_tokens.claim_refresh(refresh_token, self.request.client)

    def create_token_response(self) -> tuple[int, dict[str, Any], Any]:
        """Authlib's rotation, but for a grace replay: the spent refresh token presented
        again within its app's grace period gets the very response its first use got (the
        same pair, scope and audience), and nothing is generated or stored."""
        replay = self.request.refresh_token
        if isinstance(replay, GraceReplay):
            logs.annotate(company_id=replay.company_id, token_id=replay.successor_id)
            return 200, dict(replay.response), self.TOKEN_RESPONSE_HEADER
        status, body, headers = super().create_token_response()
        return status, body, headers

    def _validate_token_scope(self, token: OAuthToken) -> None:
        super()._validate_token_scope(token)  # never wider than the grant
        requested = scopes.parse(self.request.payload.scope)
        if not requested:
            return
        company = db.session.get(Company, token.company_id)
        if company is None or any(not scopes.is_offered(company, s) for s in requested):
            raise InvalidScopeError("A requested scope is no longer offered to this workspace.")

    def _validate_maximum(self, token: OAuthToken, maximum: str | None) -> None:
        """RFC 6749 §6: a refresh asking (or, asking nothing, getting) more than the app's
        maximum scope set is ``invalid_scope``, before the refresh token is spent."""
        asked = scopes.parse(self.request.payload.scope) or token.scope.split()
        beyond = scopes.beyond_maximum(asked, maximum)
        if beyond:
            raise InvalidScopeError(
                f"Scope beyond this app's maximum: {quoted(' '.join(beyond), 100)}."
            )

    def authenticate_user(self, refresh_token: ClaimedRefresh) -> int:
        """The grant's teammate (by id): the claim made sure they are active."""
        return refresh_token.teammate_id

    def revoke_old_credential(self, refresh_token: ClaimedRefresh) -> None:
        """Already marked used when claimed; the old access token stays until it expires."""


def asked_resources(request: OAuth2Request) -> list[str]:
    """The resources a token request names (RFC 8707), checked; read once per request."""
    asked: list[str] | None = getattr(request, "resources_asked", None)
    if asked is None:
        asked = resource_indicators.requested(flask_request.form.getlist("resource"))
        request.resources_asked = asked
    return asked


def _require_token_parameter(request: OAuth2Request) -> None:
    """RFC 7009 §2.1 / RFC 7662 §2.1: ``token`` is required; the hint MAY be ignored, and is:
    we search every kind anyway (Authlib answers an unknown hint with a 401)."""
    if not request.form.get("token"):
        raise InvalidRequestError("Missing 'token'.")


class RevocationEndpoint(_RevocationEndpoint):
    """RFC 7009 for partner tokens. Personal tokens are handled before this (views)."""

    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    def check_params(self, request: OAuth2Request, client: AnyClient) -> None:
        _require_token_parameter(request)

    def authenticate_token(self, request: OAuth2Request, client: AnyClient) -> Any:
        # The parameters are checked already (create_endpoint_response).
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if token is not None and not token.check_client(client):
            # RFC 7009 §2.1: refused; invalid_grant is RFC 6749 §5.2's code for a token
            # "issued to another client".
            raise InvalidGrantError("This token was issued to another client.")
        return token

    def query_token(self, token_string: str, token_type_hint: str | None) -> PresentedToken | None:
        return oauth_tokens.find_presented(token_string, token_type_hint)

    def revoke_token(self, token: PresentedToken, request: Any) -> None:
        revocation.revoke(token, actor=None, via=revocation.Via.RFC7009)

    def create_endpoint_response(self, request: OAuth2Request) -> tuple[int, Any, Any]:
        """Authlib's steps (the client, then the token, then its revocation), except that a
        live access token of the client itself is found and revoked by one statement."""
        client = self.authenticate_endpoint_client(request)
        self.check_params(request, client)
        token = revocation.revoke_access_token(request.form["token"], client.id)
        if token is None:
            token = self.authenticate_token(request, client)
            if token is None:
                return 200, {}, default_json_headers  # RFC 7009 §2.2: unknown is no error
            self.revoke_token(token, request)
        logs.annotate(company_id=token.company_id, token_id=token.id)
        self.server.send_signal("after_revoke_token", token=token, client=client)
        return 200, {}, default_json_headers


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """RFC 7662 for resource servers registered with introspection; both token kinds."""

    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def authenticate_endpoint_client(self, request: OAuth2Request) -> ActiveClient:
        client: ActiveClient = super().authenticate_endpoint_client(request)
        if not client.introspection:
            # RFC 7662 §2.3 answers a caller that may not introspect with RFC 6749 §5.2's
            # invalid_client (401): this client cannot authenticate at this endpoint.
            raise InvalidClientError(
                status_code=401,
                description="This client is not registered for token introspection.",
            )
        return client

    def check_params(self, request: OAuth2Request, client: AnyClient) -> None:
        _require_token_parameter(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        from oauth_server.services import introspection

        return introspection.find(token_string)

    def check_permission(self, token: Any, client: AnyClient, request: Any) -> bool:
        return bool(client.introspection)

    def introspect_token(self, token: Any) -> dict[str, Any]:
        from oauth_server.services import introspection

        return introspection.describe(token, issuer=current_app.config["OAUTH_ISSUER"])


class IssuerParameter(_IssuerParameter):
    def get_issuer(self) -> str:
        issuer: str = current_app.config["OAUTH_ISSUER"]
        return issuer


# One process-wide server: its grants, endpoints and extension hold no app state, so they
# are registered here, once; each app only loads its configuration into it.
server = AuthorizationServer()
server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
server.register_grant(RefreshTokenGrant)
server.register_endpoint(RevocationEndpoint)
server.register_endpoint(IntrospectionEndpoint)
server.register_extension(IssuerParameter())


def init_app(app: Flask) -> None:
    server.init_app(app)
    # After init_app, which registers Authlib's default generator from the config.
    server.register_token_generator("default", oauth_tokens.generate_bearer)


__all__ = ["server", "init_app"]
