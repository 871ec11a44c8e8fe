"""Routes of the protocol: ``/oauth/*``, ``/.well-known/oauth-authorization-server`` and
the protected resources' ``/.well-known/oauth-protected-resource/...``."""

from __future__ import annotations

import hmac
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError
from authlib.oauth2.rfc6749 import InvalidScopeError
from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from oauth_server import bearer
from oauth_server import conflicts
from oauth_server import logs
from oauth_server import protected_resources
from oauth_server import resource_indicators
from oauth_server import scopes
from oauth_server import tokens
from oauth_server import urls
from oauth_server.errors import DomainError
from oauth_server.errors import NotFound
from oauth_server.errors import ScopeNotOffered
from oauth_server.extensions import csrf
from oauth_server.extensions import db
from oauth_server.extensions import limiter
from oauth_server.extensions import read_without_transaction
from oauth_server.models.app_policy import Approval
from oauth_server.models.clients import AnyClient
from oauth_server.oauth import cross_origin
from oauth_server.oauth import requests
from oauth_server.oauth.server import ALL_AUTH_METHODS
from oauth_server.oauth.server import CONFIDENTIAL_AUTH_METHODS
from oauth_server.oauth.server import server
from oauth_server.services import app_policy
from oauth_server.services import clients
from oauth_server.services import consent
from oauth_server.services import grants
from oauth_server.services import personal_tokens
from oauth_server.services import revocation
from oauth_server.urls import external_url

bp = Blueprint("oauth", __name__, url_prefix="/oauth")
wellknown_bp = Blueprint("wellknown", __name__)
cross_origin.open_to_browser_apps(bp, r"/oauth/token", r"/oauth/revoke")
cross_origin.open_to_browser_apps(
    wellknown_bp,
    r"/\.well-known/oauth-authorization-server",
    r"/\.well-known/oauth-protected-resource/.*",
)

JSON_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@bp.after_request
def _no_store(response: Response) -> Response:
    """Nothing of the protocol is cached: codes, tokens, consent pages with CSRF tokens."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _issuer() -> str:
    return urls.issuer()


def _oauth_error(status: int, error: str, description: str, **headers: str) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers.update({**JSON_NO_STORE, **headers})
    return response


def _client_key() -> str:
    """Rate-limit key of the protocol endpoints: the client named, with the address.

    The address is part of the key because a client_id is public (it is in every
    authorization URL): alone, anyone could spend a partner's allowance.
    """
    requests.body()  # keep the raw body for form_problem before the form is parsed
    address = request.remote_addr or "unknown"
    if request.headers.get("Authorization", "")[:7].lower() == "bearer ":
        # A personal token revoking itself names no client: per address, so made-up
        # tokens (with made-up client_ids beside them) all spend one budget.
        return "oauth-ip:" + address
    auth = request.authorization
    client_id = (auth.username if auth and auth.type == "basic" else None) or request.form.get(
        "client_id"
    )
    if client_id:
        return f"oauth-client:{client_id[:64]}:{address}"
    return "oauth-ip:" + address


# --- authorization endpoint ---------------------------------------------------------------


def _error_page(error: OAuth2Error) -> tuple[str, int]:
    return (
        render_template(
            "oauth/error.html",
            error=error.error,
            description=error.get_error_description(),
        ),
        400,
    )


def _redirect_error(error: OAuth2Error) -> Response | tuple[str, int]:
    """An error goes back to a validated redirect URI, with ``iss`` (RFC 9207); else a page."""
    if not error.redirect_uri:
        return _error_page(error)
    _status, _body, headers = error()
    location = add_params_to_uri(dict(headers)["Location"], {"iss": _issuer()})
    return redirect(location, 302)


def _sign_in_first() -> Response:
    """The sign-in page, whose ``next`` brings the teammate back to this same request."""
    return redirect(url_for("auth.login", next=request.full_path))


def _consented_before(client: AnyClient, decision: consent.ConsentDecision) -> bool:
    """The teammate approved every requested scope for this app before, and the app may
    skip the page (``ClientRules.skips_repeat_consent``) unless it asks to show it with
    ``prompt=consent``. Other prompt values are not supported and are ignored."""
    prompts = (request.args.get("prompt") or "").split()
    return client.skips_repeat_consent and decision.asks_nothing_new and "consent" not in prompts


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    too_long = requests.query_problem()
    if too_long:
        page = render_template("oauth/error.html", error="invalid_request", description=too_long)
        return page, 400
    user = current_user if current_user.is_authenticated else None
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        if error.redirect_uri and user is None:
            # RFC 9700 §4.11.2: a crafted link must not turn us into an open redirector to
            # whatever site an app registered; only a signed-in teammate is sent back.
            return _sign_in_first()
        return _redirect_error(error)
    if user is None:
        return _sign_in_first()
    # The company's third-party app policy, on every method: the consent page's POST too.
    verdict = app_policy.decide(user.company_id, grant.client)
    if verdict.verdict is not app_policy.Verdict.ALLOWED:
        return _policy_answer(verdict, grant)
    try:
        resources = resource_indicators.requested(
            request.args.getlist("resource"), state=grant.request.payload.state
        )
    except OAuth2Error as error:
        error.redirect_uri = grant.redirect_uri
        return _redirect_error(error)
    grant.resources = resource_indicators.stored(resources)
    try:
        decision = consent.evaluate(
            user.company,
            user,
            grant.request.payload.scope,
            granted=grants.live_scope(user, grant.client.id),
            maximum=grant.client.max_scope,
        )
    except ScopeNotOffered as problem:
        return _redirect_error(
            InvalidScopeError(
                problem.message,
                redirect_uri=grant.redirect_uri,
                state=grant.request.payload.state,
            )
        )
    if request.method == "GET" and _consented_before(grant.client, decision):
        grant.granted_scope = decision.scope
        return server.create_authorization_response(grant=grant, grant_user=user)
    if request.method == "GET":
        return render_template(
            "oauth/consent.html",
            client=grant.client,
            company=user.company,
            registered_by=clients.registered_by(grant.client),
            redirect_host=clients.redirect_host(grant.redirect_uri),
            decision=decision,
            label=lambda scope: scopes.label(scope, user.company.teams),
            action=request.full_path,
        )
    allowed = request.form.get("decision") == "allow" and bool(decision.grantable)
    grant.granted_scope = decision.scope
    return server.create_authorization_response(grant=grant, grant_user=user if allowed else None)


def _policy_answer(decision: app_policy.Decision, grant: Any) -> Any:
    """What the policy says instead of the consent page: an untrusted app gets an error
    page (nothing goes back to its host), a refused one ``access_denied`` at its redirect
    URI, one waiting for an admin the "Request approval" page. No code is issued."""
    if decision.verdict is app_policy.Verdict.REFUSED:
        return _redirect_error(
            AccessDeniedError(
                decision.reason,
                redirect_uri=grant.redirect_uri,
                state=grant.request.payload.state,
            )
        )
    page = render_template(
        "oauth/app_policy.html",
        decision=decision,
        Verdict=app_policy.Verdict,
        client=grant.client,
        company=current_user.company,
        authorize_path=request.full_path,
    )
    # The "Request approval" page is one to act on (200); a declined or untrusted app, 403.
    waiting = decision.verdict is app_policy.Verdict.NEEDS_APPROVAL and decision.approval in (
        None,
        Approval.PENDING,
    )
    return page, 200 if waiting else 403


@bp.post("/authorize/approval")
def request_approval() -> Any:
    """ "Request approval": the company's pending request for the app (idempotent), then a
    page saying so. The form carries the client_id and the authorization request to
    start again from once an admin approved."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    again = request.form.get("next", "")
    if not again.startswith(url_for("oauth.authorize") + "?") or len(again) > 4000:
        again = ""
    client_id = request.form.get("client_id", "")
    try:
        approval = app_policy.request_approval(current_user, client_id)
    except DomainError as problem:
        status = 404 if isinstance(problem, NotFound) else 403
        page = render_template(
            "oauth/approval_requested.html", problem=problem.message, again=again
        )
        return page, status
    return render_template(
        "oauth/approval_requested.html",
        problem=None,
        client=approval.client,
        company=current_user.company,
        again=again,
    )


# --- token, revocation and introspection endpoints ---------------------------------------------


def _refusal(*, required: str | None = None) -> Response | None:
    """The RFC 6749 §5.2 answer to a malformed request, before Authlib sees it."""
    problem = requests.form_problem()
    if problem is None and required and not request.form.get(required):
        problem = f"Missing '{required}'."
    if problem:
        return _oauth_error(400, "invalid_request", problem)
    if requests.malformed_basic():
        return _oauth_error(
            401,
            "invalid_client",
            "Malformed HTTP Basic client credentials.",
            **{"WWW-Authenticate": 'Basic error="invalid_client"'},
        )
    return None


@bp.post("/token")
@limiter.limit(lambda: current_app.config["RATELIMIT_TOKEN"], key_func=_client_key)
def token() -> Response:
    refusal = _refusal(required="grant_type")
    if refusal:
        return refusal
    return conflicts.retrying(_token_transaction)


def _token_transaction() -> Response:
    response: Response = server.create_token_response()
    # One transaction per exchange: the issued pair, or the burnt code / revoked grant of
    # an error answer. An exception rolls everything back instead.
    db.session.commit()
    return response


@bp.post("/revoke")
@limiter.limit(lambda: current_app.config["RATELIMIT_TOKEN"], key_func=_client_key)
def revoke() -> Response:
    refusal = _refusal()
    if refusal:
        return refusal
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        return _revoke_personal(authorization[7:].strip())
    if tokens.kind_of(request.form.get("token", "")) is tokens.Kind.ACCESS:
        # An access token is revoked with reads and one conditional UPDATE, whole by
        # itself: no transaction around them (on PostgreSQL, no BEGIN and COMMIT round
        # trips). A refresh token revokes its grant, several statements: a transaction.
        read_without_transaction()
    # A conflict rolls the whole revocation back, to run again.
    response: Response = conflicts.retrying(_revocation_transaction)
    return response


def _revocation_transaction() -> Response:
    response: Response = server.create_endpoint_response("revocation")
    db.session.commit()  # and the audit line, once committed
    return response


def _revoke_personal(value: str) -> Response:
    """A personal token revokes itself: it must authenticate the request and be the token."""
    challenge = bearer.challenge("invalid_token")
    if tokens.kind_of(value) is not tokens.Kind.PERSONAL:
        return _oauth_error(
            401,
            "invalid_token",
            "Only a personal token authenticates as Bearer here.",
            **{"WWW-Authenticate": challenge},
        )
    row = personal_tokens.find_by_value(value)
    if row is None:
        return _oauth_error(
            401, "invalid_token", "Unknown token.", **{"WWW-Authenticate": challenge}
        )
    presented = request.form.get("token")
    if not presented:
        return _oauth_error(400, "invalid_request", "Missing 'token'.")
    if not hmac.compare_digest(presented.encode(), value.encode()):
        # Refused like a client's request for another client's token (RFC 7009 §2.1).
        return _oauth_error(400, "invalid_grant", "A personal token can revoke only itself.")
    logs.annotate(company_id=row.company_id, token_id=row.id)
    revocation.revoke(row, actor=None, via=revocation.Via.RFC7009)
    db.session.commit()
    response = jsonify({})
    response.headers.update(JSON_NO_STORE)
    return response


@bp.post("/introspect")
@limiter.limit(lambda: current_app.config["RATELIMIT_TOKEN"], key_func=_client_key)
def introspect() -> Response:
    refusal = _refusal()
    if refusal:
        return refusal
    response: Response = server.create_endpoint_response("introspection")
    return response


# The form endpoints answer in JSON even when Flask or a limit refuses the request.
PROTOCOL_ENDPOINTS = {"oauth.token", "oauth.revoke", "oauth.introspect", "oauth.wrong_method"}


@csrf.exempt  # no session, no form: there is nothing to forge
def _wrong_method() -> Response:
    """RFC 6749 §3.2: the token endpoint (and its siblings) take POST only."""
    return _oauth_error(405, "invalid_request", "Use POST.", Allow="POST")


for _path in ("/token", "/revoke", "/introspect"):
    bp.add_url_rule(
        _path,
        endpoint="wrong_method",
        view_func=_wrong_method,
        methods=["GET", "PUT", "PATCH", "DELETE"],
    )


@bp.errorhandler(413)
@bp.errorhandler(429)
def _refused(error: HTTPException) -> Any:
    if request.endpoint not in PROTOCOL_ENDPOINTS:
        return error  # the authorization endpoint keeps the HTML error pages
    code = error.code or 400
    description = "Request body too large." if code == 413 else "Too many requests."
    # 429: Flask-Limiter adds Retry-After to whatever answer the error ends in.
    return _oauth_error(code, "invalid_request", description)


# --- discovery -----------------------------------------------------------------------------


@wellknown_bp.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    """RFC 8414 metadata."""
    issuer = _issuer()
    response = jsonify(
        {
            "issuer": issuer,
            "authorization_endpoint": external_url("oauth.authorize"),
            "token_endpoint": external_url("oauth.token"),
            "revocation_endpoint": external_url("oauth.revoke"),
            "introspection_endpoint": external_url("oauth.introspect"),
            # What consent may grant in every workspace (team scopes are per workspace;
            # ``tokens`` is for personal tokens only).
            "scopes_supported": [*scopes.PARTNER_API_SCOPES, scopes.SCIM],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ALL_AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": ALL_AUTH_METHODS,
            "introspection_endpoint_auth_methods_supported": CONFIDENTIAL_AUTH_METHODS,
            "authorization_response_iss_parameter_supported": True,
            "client_id_metadata_document_supported": True,
        }
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


DISCOVERY_CACHE = "public, max-age=3600"


@wellknown_bp.get(protected_resources.METADATA_PATH, defaults={"path": ""})
@wellknown_bp.get(protected_resources.METADATA_PATH + "/<path:path>")
def resource_metadata(path: str) -> Response:
    """RFC 9728 metadata of the API or of SCIM, at the path of the resource's URL.

    Any other path names no resource of ours: a JSON 404 (§3.1), so that a client probing
    for metadata reads an answer it can parse.
    """
    resource = protected_resources.by_path("/" + path)
    if resource is None:
        response = jsonify({"error": "not_found", "error_description": "No such resource."})
        response.status_code = 404
        return response
    response = jsonify(resource.metadata())
    response.headers["Cache-Control"] = DISCOVERY_CACHE
    return response
