"""The demo's pages: sign in, connect, dashboard, disconnect, and every way it can end."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from authlib.integrations.flask_client import OAuth
from authlib.integrations.flask_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask
from flask import abort
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from standardwebhooks import Webhook
from standardwebhooks import WebhookVerificationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from partners_demo import store

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
HTTP_TIMEOUT = 10  # seconds, for every call to the workspace
ERROR_TEXT = {
    "access_denied": "You (or the workspace) did not allow access.",
    "invalid_scope": "The workspace does not offer the permissions this app asked for.",
    "invalid_request": "The sign-in request was not valid.",
    "unauthorized_client": "This app may not sign in that way.",
    "unsupported_response_type": "The workspace refused how this app signs in.",
    "server_error": "The workspace had a problem. Try again later.",
    "temporarily_unavailable": "The workspace is busy. Try again in a moment.",
    "invalid_grant": "The sign-in answer was already used or has expired. Connect again.",
    "invalid_client": "The workspace did not recognise this app. Ask its operator to check "
    "the app's credentials.",
}
STATE_TEXT = "The sign-in answer did not match a request from this browser."
UNKNOWN_TEXT = "The workspace refused the connection."
_ERROR_CODE_RE = re.compile(r"[a-z_]{1,40}")


class AccessRevoked(Exception):
    """The workspace no longer accepts our tokens."""


class WorkspaceMisconfigured(Exception):
    """The workspace's metadata does not describe the server we were configured with."""


def init_app(app: Flask) -> None:
    # One OAuth registry per app (kept in app.extensions by Authlib), not a module global:
    # Authlib caches a registered client by name, so a second app would get the first's.
    # The PKCE verifier and the authorize URL stay server-side (store.PendingAuthorizations).
    oauth = OAuth(app, cache=store.PendingAuthorizations())
    oauth.register(
        name="workspace",
        client_id=app.config["CLIENT_ID"],
        client_secret=app.config["CLIENT_SECRET"] or None,
        server_metadata_url=app.config["SERVER_URL"] + "/.well-known/oauth-authorization-server",
        # The scope goes in the authorization request only: on a refresh, Authlib would send
        # a client-wide scope too, and asking for more than was granted (a teammate cannot
        # grant "shared") is refused with invalid_scope.
        # prompt=consent: Connect is a person's explicit choice, and several demo users may
        # connect through one server login; without it the server skips the page for a
        # confidential app asking again for what the teammate already granted.
        authorize_params={"scope": app.config["SCOPE"], "prompt": "consent"},
        client_kwargs={"code_challenge_method": "S256", "default_timeout": HTTP_TIMEOUT},
        update_token=_save_refreshed_token,
    )
    app.add_url_rule("/", "index", index)
    app.add_url_rule("/signin", "signin", signin, methods=["GET", "POST"])
    app.add_url_rule("/signout", "signout", signout, methods=["POST"])
    app.add_url_rule("/connect", "connect", connect, methods=["POST"])
    app.add_url_rule("/callback", "callback", callback)
    app.add_url_rule("/disconnect", "disconnect", disconnect, methods=["POST"])
    app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
    app.add_url_rule("/events", "events", events_endpoint, methods=["POST"])

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cache-Control", "no-store")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", _content_security_policy())
        return response

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        return {"username": session.get("username"), "csrf": _csrf(), "nonce": _nonce()}

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(requests.RequestException, _unreachable)
    app.register_error_handler(OAuthError, _refused)
    app.register_error_handler(WorkspaceMisconfigured, _misconfigured)
    app.register_error_handler(Exception, _unexpected)


# --- error pages: never a stack trace ------------------------------------------------------


def _message(title: str, message: str, status: int) -> tuple[str, int]:
    return render_template("message.html", title=title, message=message), status


def _http_error(error: HTTPException) -> Any:
    if error.code == 404:
        return _message("Not found", "No such page.", 404)
    if error.code == 400:
        return _message("Please try again", "The form expired. Go back, reload and retry.", 400)
    return error


def _unreachable(error: requests.RequestException) -> tuple[str, int]:
    current_app.logger.warning("workspace call failed: %s", error)
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return _message(
            "Workspace error",
            f"The workspace answered with an error (HTTP {error.response.status_code}). "
            "Try again in a moment.",
            502,
        )
    return _message("Workspace unreachable", "The workspace did not answer. Try again later.", 503)


def _refused(error: OAuthError) -> tuple[str, int]:
    # A token request refused for another reason than a revoked grant (handled as
    # AccessRevoked): a rotated client secret, a rate limit...
    current_app.logger.warning("workspace refused a token request: %s", error)
    return _message(
        "Workspace refused",
        ERROR_TEXT.get(error.error or "", "The workspace refused this app's request.")
        + " Try again later.",
        502,
    )


def _misconfigured(error: WorkspaceMisconfigured) -> tuple[str, int]:
    current_app.logger.error("%s", error)
    return _message("Workspace misconfigured", str(error), 502)


def _unexpected(error: Exception) -> tuple[str, int]:
    current_app.logger.exception("unexpected error")
    return _message("Something went wrong", "Partner Demo had a problem. Try again.", 500)


# --- helpers -----------------------------------------------------------------------------------


def _client() -> Any:
    return current_app.extensions["authlib.integrations.flask_client"].workspace


def _metadata() -> dict[str, Any]:
    """The server's RFC 8414 metadata (fetched once, then cached by Authlib)."""
    metadata: dict[str, Any] = _client().load_server_metadata()
    # RFC 8414 §3.3: the issuer must be the URL the metadata was fetched for.
    if metadata.get("issuer") != current_app.config["SERVER_URL"]:
        raise WorkspaceMisconfigured(
            f"The workspace at {current_app.config['SERVER_URL']} describes itself as "
            f"{metadata.get('issuer')!r}: check PARTNERS_DEMO_SERVER_URL."
        )
    return metadata


def _username() -> str | None:
    return session.get("username")


def _check_csrf() -> None:
    """A small CSRF guard for the demo's POST buttons."""
    expected = session.get("csrf", "")
    sent = request.form.get("csrf", "")
    if not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
        abort(400)


def _nonce() -> str:
    """This answer's CSP nonce: the only inline style (or script) a page may run."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    nonce: str = g.csp_nonce
    return nonce


def _content_security_policy() -> str:
    # Nothing but our own pages and their nonce'd style; forms post here, and the connect
    # form's redirect goes on to the workspace (form-action covers redirects).
    return (
        "default-src 'none'; "
        f"style-src 'nonce-{_nonce()}'; "
        "img-src 'self'; "
        f"form-action 'self' {current_app.config['SERVER_URL']}; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


def _csrf() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(16)
    token: str = session["csrf"]
    return token


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def _one_at_a_time(username: str) -> Iterator[None]:
    """Serialize a user's API calls: two concurrent refreshes would present the same refresh
    token twice, and the server treats the second as reuse and revokes the grant."""
    with _locks_guard:
        lock = _locks.setdefault(username, threading.Lock())
    with lock:
        yield


def _save_refreshed_token(
    token: dict[str, Any], refresh_token: str | None = None, access_token: str | None = None
) -> None:
    """Authlib calls this after a refresh: keep the rotated refresh token."""
    username = _username()
    if username:
        store.save(username, token)


def api_get(path: str) -> Any:
    """GET an API route with the stored token; Authlib refreshes it first when it is (about
    to be) expired, and on a 401 we refresh once and retry before giving up."""
    username = _username()
    url = current_app.config["SERVER_URL"] + "/api/v1" + path
    _metadata()
    for attempt in range(2):
        token = store.load(username) if username else None
        if token is None:
            raise AccessRevoked()
        if attempt:
            token = {**token, "expires_at": 0}  # makes Authlib refresh before the call
        try:
            response = _client().get(url, token=token)
        except OAuthError as error:  # the refresh was refused
            if error.error == "invalid_grant":
                raise AccessRevoked() from error
            raise
        if response.status_code != 401:
            response.raise_for_status()
            return response.json()
    raise AccessRevoked()


# --- pages ---------------------------------------------------------------------------------


def index() -> Any:
    username = _username()
    if username is None:
        return redirect(url_for("signin"))
    if store.load(username) is None:
        if store.take_revoked_notice(username):  # a revocation event came: no API call
            return render_template("revoked.html")
        return render_template("connect.html")
    with _one_at_a_time(username):
        try:
            me = api_get("/me")
            if me.get("teammate"):
                store.set_owner(username, me["company"]["id"], me["teammate"]["id"])
            teams = api_get("/teams")["_results"] if _may_list_teams(me) else []
            conversations = api_get("/conversations?limit=5")["_results"]
        except AccessRevoked:
            store.forget(username)
            return render_template("revoked.html")
    return render_template("dashboard.html", me=me, teams=teams, conversations=conversations)


def _may_list_teams(me: dict[str, Any]) -> bool:
    return any(s == "shared" or s == "provisioning" or s.startswith("team:") for s in me["scopes"])


def signin() -> Any:
    if request.method == "POST":
        _check_csrf()
        username = (request.form.get("username") or "").strip()
        if not USERNAME_RE.match(username):
            return render_template("signin.html", error="Use 1-64 letters, digits or . _ @ -"), 400
        session.clear()
        session["username"] = username
        return redirect(url_for("index"))
    return render_template("signin.html", error=None)


def signout() -> Response:
    _check_csrf()
    session.clear()
    return redirect(url_for("signin"))


def connect() -> Any:
    if _username() is None:
        return redirect(url_for("signin"))
    _check_csrf()
    _metadata()
    # Authorization code with PKCE S256 and a state kept in our session; the endpoint
    # comes from the metadata.
    return _client().authorize_redirect(url_for("callback", _external=True))


def callback() -> Any:
    username = _username()
    if username is None:
        return redirect(url_for("signin"))
    client = _client()
    state = request.args.get("state")
    # Every answer, errors included, must carry a state this browser's session started.
    if not state or client.framework.get_state_data(session, state) is None:
        return _failed(STATE_TEXT, "state")
    # RFC 9207: the answer must come from the server we sent the user to (mix-up defence).
    metadata = _metadata()
    iss = request.args.get("iss")
    if (iss is not None or metadata.get("authorization_response_iss_parameter_supported")) and (
        iss != metadata["issuer"]
    ):
        client.framework.clear_state_data(session, state)
        return _failed("The answer did not come from the expected workspace.", "iss_mismatch")
    error = request.args.get("error")
    if error:
        client.framework.clear_state_data(session, state)
        code = error if _ERROR_CODE_RE.fullmatch(error) else "unknown"
        return _failed(ERROR_TEXT.get(error, UNKNOWN_TEXT), code)
    try:
        # Checks state again, clears it, and redeems the code with the PKCE verifier.
        token = client.authorize_access_token()
    except OAuthError as exc:
        if exc.error == "mismatching_state":
            return _failed(STATE_TEXT, "state")
        code = exc.error if _ERROR_CODE_RE.fullmatch(exc.error or "") else "unknown"
        return _failed(ERROR_TEXT.get(exc.error or "", UNKNOWN_TEXT), code)
    store.save(username, token)
    return redirect(url_for("index"))


def _failed(message: str, code: str | None) -> tuple[str, int]:
    return render_template("failed.html", message=message, code=code), 400


def disconnect() -> Any:
    username = _username()
    if username is None:
        return redirect(url_for("signin"))
    _check_csrf()
    token = store.load(username)
    told = _revoke(token) if token else True
    store.forget(username)  # forget locally in any case
    if not told:
        return _message(
            "Disconnected here only",
            "Partner Demo forgot its connection, but the workspace did not confirm the "
            "revocation. A workspace admin can revoke it under Company settings > "
            "Plugins & API > API > Apps with Access.",
            502,
        )
    return redirect(url_for("index"))


def _revoke(token: dict[str, Any]) -> bool:
    """RFC 7009 at the metadata's revocation endpoint. Revoking the refresh token ends the
    whole grant, access tokens included."""
    try:
        endpoint = _metadata().get("revocation_endpoint")
    except (requests.RequestException, WorkspaceMisconfigured):
        return False
    kind = "refresh_token" if token.get("refresh_token") else "access_token"
    if not endpoint or not token.get(kind):
        return False
    config = current_app.config
    oauth_session = OAuth2Session(
        config["CLIENT_ID"], config["CLIENT_SECRET"] or None, default_timeout=HTTP_TIMEOUT
    )
    try:
        with oauth_session:
            response = oauth_session.revoke_token(endpoint, token[kind], token_type_hint=kind)
    except requests.RequestException:
        return False
    if not response.ok:
        current_app.logger.warning("revocation refused: HTTP %s", response.status_code)
    return bool(response.ok)


# --- revocation events ---------------------------------------------------------------------

EVENT_MAX_BYTES = 64 * 1024
# The standardwebhooks library refuses a timestamp more than 5 minutes old or ahead; an id
# is remembered a little longer, so a replay is refused either way.
SEEN_FOR = 10 * 60.0


def events_endpoint() -> Any:
    """The workspace's revocation events (Standard Webhooks). Verified with the
    ``standardwebhooks`` library: a bad signature or an old timestamp is refused (400), a
    ``webhook-id`` seen already is refused (409) and not acted on again. ``grant.revoked``
    forgets the grant's tokens at once."""
    secret = current_app.config["EVENTS_SECRET"]
    if not secret:
        abort(404)
    if (request.content_length or 0) > EVENT_MAX_BYTES:
        abort(413)
    body = request.get_data(cache=False)
    try:
        event = Webhook(secret).verify(body, dict(request.headers))
    except (WebhookVerificationError, ValueError):
        current_app.logger.warning("event refused: signature or timestamp not valid")
        return {"error": "invalid signature or timestamp"}, 400
    webhook_id = request.headers["webhook-id"]

    def effect(conn: Any) -> None:
        if event.get("type") == "grant.revoked" and event.get("teammate_id") is not None:
            store.forget_grant(conn, int(event["company_id"]), int(event["teammate_id"]))

    if not store.accept_event(webhook_id, SEEN_FOR, effect):
        current_app.logger.warning("event refused: webhook-id seen already")
        return {"error": "replayed webhook-id"}, 409
    current_app.logger.info("event accepted: %s", event.get("type"))
    return {"status": "ok"}
