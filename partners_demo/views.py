"""The demo's pages: sign in, connect, dashboard, disconnect, and every way it can end."""

from __future__ import annotations

import re
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from authlib.integrations.flask_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask
from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from werkzeug.wrappers import Response

from partners_demo import store

oauth = OAuth()
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
ERROR_TEXT = {
    "access_denied": "You (or the workspace) did not allow access.",
    "invalid_scope": "The workspace does not offer the permissions this app asked for.",
    "invalid_request": "The sign-in request was not valid.",
    "unauthorized_client": "This app may not sign in that way.",
    "unsupported_response_type": "The workspace refused how this app signs in.",
    "server_error": "The workspace had a problem. Try again later.",
    "temporarily_unavailable": "The workspace is busy. Try again in a moment.",
}


class AccessRevoked(Exception):
    """The workspace no longer accepts our tokens."""


def _fetch_token() -> dict[str, Any] | None:
    username = session.get("username")
    return store.load(username) if username else None


def _update_token(
    token: dict[str, Any], refresh_token: str | None = None, access_token: str | None = None
) -> None:
    # Called by Authlib after a refresh: keep the rotated refresh token.
    username = session.get("username")
    if username:
        store.save(username, token)


def init_app(app: Flask) -> None:
    oauth.init_app(app)
    oauth.register(
        name="workspace",
        client_id=app.config["CLIENT_ID"],
        client_secret=app.config["CLIENT_SECRET"] or None,
        server_metadata_url=app.config["SERVER_URL"] + "/.well-known/oauth-authorization-server",
        client_kwargs={"scope": app.config["SCOPE"], "code_challenge_method": "S256"},
        fetch_token=_fetch_token,
        update_token=_update_token,
    )
    app.add_url_rule("/", "index", index)
    app.add_url_rule("/signin", "signin", signin, methods=["GET", "POST"])
    app.add_url_rule("/signout", "signout", signout, methods=["POST"])
    app.add_url_rule("/connect", "connect", connect, methods=["POST"])
    app.add_url_rule("/callback", "callback", callback)
    app.add_url_rule("/disconnect", "disconnect", disconnect, methods=["POST"])
    app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        return {"username": session.get("username"), "csrf": _csrf()}

    @app.errorhandler(404)
    def _not_found(_error: Any) -> tuple[str, int]:
        return render_template("message.html", title="Not found", message="No such page."), 404


def _client() -> Any:
    return oauth.workspace


def _username() -> str | None:
    return session.get("username")


def _check_same_origin() -> None:
    """A small CSRF guard for the demo's POST buttons."""
    if request.form.get("csrf") != session.get("csrf"):
        abort(400)


def _csrf() -> str:
    if "csrf" not in session:
        import secrets

        session["csrf"] = secrets.token_urlsafe(16)
    token: str = session["csrf"]
    return token


def api_get(path: str) -> Any:
    """GET an API route with the stored token; refresh once on 401 before giving up."""
    url = current_app.config["SERVER_URL"] + "/api/v1" + path
    response = _client().get(url)  # Authlib refreshes before expiry and stores the rotation
    if response.status_code == 401:
        if not _refresh_now():
            raise AccessRevoked()
        response = _client().get(url)
        if response.status_code == 401:
            raise AccessRevoked()
    response.raise_for_status()
    return response.json()


def _refresh_now() -> bool:
    token = _fetch_token()
    if not token or "refresh_token" not in token:
        return False
    metadata = _client().load_server_metadata()
    config = current_app.config
    session_ = OAuth2Session(config["CLIENT_ID"], config["CLIENT_SECRET"] or None)
    try:
        new = session_.refresh_token(
            metadata["token_endpoint"], refresh_token=token["refresh_token"]
        )
    except (OAuthError, AuthlibBaseError, requests.RequestException):
        return False
    _update_token(new)
    return True


def index() -> Any:
    username = _username()
    if username is None:
        return redirect(url_for("signin"))
    token = store.load(username)
    if token is None:
        return render_template("connect.html", username=username, csrf=_csrf())
    try:
        me = api_get("/me")
        teams = api_get("/teams")["_results"] if _may_list_teams(me) else []
        conversations = api_get("/conversations?limit=5")["_results"]
    except AccessRevoked:
        store.forget(username)
        return render_template("revoked.html", username=username, csrf=_csrf()), 401
    except requests.RequestException:
        return render_template(
            "message.html",
            title="Workspace unreachable",
            message="The workspace did not answer. Try again in a moment.",
        ), 503
    return render_template(
        "dashboard.html",
        username=username,
        me=me,
        teams=teams,
        conversations=conversations,
        csrf=_csrf(),
    )


def _may_list_teams(me: dict[str, Any]) -> bool:
    return any(s == "shared" or s == "provisioning" or s.startswith("team:") for s in me["scopes"])


def signin() -> Any:
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        if not USERNAME_RE.match(username):
            return render_template("signin.html", error="Use 1-64 letters, digits or . _ @ -"), 400
        session.clear()
        session["username"] = username
        return redirect(url_for("index"))
    return render_template("signin.html", error=None)


def signout() -> Response:
    _check_same_origin()
    session.clear()
    return redirect(url_for("signin"))


def connect() -> Any:
    if _username() is None:
        return redirect(url_for("signin"))
    _check_same_origin()
    try:
        return _client().authorize_redirect(url_for("callback", _external=True))
    except requests.RequestException:
        return render_template(
            "message.html",
            title="Workspace unreachable",
            message="Could not reach the workspace to start signing in.",
        ), 503


def callback() -> Any:
    username = _username()
    if username is None:
        return redirect(url_for("signin"))
    error = request.args.get("error")
    if error:
        return _failed(ERROR_TEXT.get(error, "The workspace refused the connection."), error)
    # RFC 9207: the response must come from the server we sent the user to (mix-up defence).
    issuer = _client().load_server_metadata().get("issuer")
    if request.args.get("iss") != issuer:
        return _failed("The answer did not come from the expected workspace.", "iss_mismatch")
    try:
        token = _client().authorize_access_token()
    except OAuthError as exc:
        if exc.error == "mismatching_state":
            return _failed("The sign-in answer did not match a request from this browser.", "state")
        return _failed(
            ERROR_TEXT.get(exc.error, "The workspace refused the connection."), exc.error
        )
    except requests.RequestException:
        return _failed("The workspace did not answer.", "unreachable")
    store.save(username, token)
    return redirect(url_for("index"))


def _failed(message: str, code: str | None) -> tuple[str, int]:
    return render_template("failed.html", message=message, code=code, csrf=_csrf()), 400


def disconnect() -> Response:
    username = _username()
    if username is None:
        return redirect(url_for("signin"))
    _check_same_origin()
    token = store.load(username)
    if token:
        metadata = _client().load_server_metadata()
        # Revoking the refresh token ends the whole grant, access tokens included.
        for kind in ("refresh_token", "access_token"):
            if token.get(kind):
                config = current_app.config
                data = {"token": token[kind], "token_type_hint": kind}
                auth = None
                if config["CLIENT_SECRET"]:
                    auth = (config["CLIENT_ID"], config["CLIENT_SECRET"])
                else:
                    data["client_id"] = config["CLIENT_ID"]  # a public client names itself
                try:
                    requests.post(metadata["revocation_endpoint"], data=data, auth=auth, timeout=10)
                except requests.RequestException:
                    pass  # forget locally anyway; the grant stays listed for the admin
                break
        store.forget(username)
    return redirect(url_for("index"))
