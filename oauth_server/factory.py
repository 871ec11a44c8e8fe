"""The steps of the app factory, one function each."""

from __future__ import annotations

import inspect
import logging
from typing import Any

from flask import Flask
from flask import Response
from flask import g
from flask import jsonify
from flask import render_template
from flask import request
from flask.sessions import SecureCookieSession
from flask.sessions import SecureCookieSessionInterface
from flask.wrappers import Request
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from oauth_server import conflicts
from oauth_server import connections
from oauth_server import text
from oauth_server.extensions import csrf
from oauth_server.extensions import db
from oauth_server.extensions import limiter
from oauth_server.extensions import login_manager
from oauth_server.services import vault

log = logging.getLogger(__name__)


class App(Flask):
    """Flask, with a cheaper test for the hooks and views that are plain functions."""

    def ensure_sync(self, func: Any) -> Any:
        """Flask asks this of every hook and view of every request (ten or more each);
        its answer for a function or method whose code is not a coroutine's is the
        function itself. ``inspect.iscoroutinefunction`` reaches the same answer through
        several calls; the code's flags say it at once. Anything else goes to Flask."""
        code = getattr(func, "__code__", None)
        if code is not None and not code.co_flags & inspect.CO_COROUTINE:
            return func
        return super().ensure_sync(func)


def request_logs(app: Flask) -> None:
    from oauth_server import logs

    logs.init_app(app)


def retry_after(app: Flask) -> None:
    """An answer's own ``Retry-After`` (``g.retry_after``) wins.

    Registered before the extensions, so this hook runs after Flask-Limiter's, which sets
    the header on every answer of a limited route to the end of its window: a 503 of a
    database restart means "in a second", not "in a minute".
    """

    @app.after_request
    def _keep_retry_after(response: Response) -> Response:
        wanted = g.get("retry_after")
        if wanted:
            response.headers["Retry-After"] = wanted
        return response


def proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, the client address is their X-Forwarded-For:
    per-address rate limits then count clients, not the proxy."""
    count = app.config["TRUSTED_PROXIES"]
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count)  # type: ignore[method-assign]


# Bearer-token and protocol endpoints, and the health checks: no browser signs in there, so
# no cookie session is opened (or verified, or re-signed) for them.
SESSIONLESS_PATHS = (
    "/api/",
    "/scim/",
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/.well-known/",
    "/healthz",
    "/readyz",
    "/security/",
)


class BrowserSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, for the browser's pages only.

    Elsewhere the request gets Flask's null session: reading it finds nothing, and writing
    to it raises, so a bearer request can never depend on, or set, a session cookie.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(SESSIONLESS_PATHS):
            return None
        return super().open_session(app, request)


def sessions(app: Flask) -> None:
    app.session_interface = BrowserSessions()


def extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            connections.check_at_checkout(engine)

    @app.teardown_appcontext
    def _end_session(error: BaseException | None) -> None:
        """Close the request's database session, even on a connection the database dropped.

        Registered after Flask-SQLAlchemy's own teardown, so it runs before it. When the
        database restarts just after a request's work, the closing ROLLBACK fails: the
        answer was made and stands (no 500 from a teardown); the failure invalidated the
        connection, so a second close has nothing left to roll back.
        """
        try:
            db.session.remove()
        except (OperationalError, InterfaceError):
            log.warning("database connection lost at the end of a request")
            db.session.remove()

    from oauth_server import schema

    schema.init_app(app)  # `flask db`; Flask-Migrate itself is imported when it runs
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Log in to continue."
    login_manager.session_protection = "basic"
    vault.init_app(app)
    text.refuse_nul_at_flush()
    from oauth_server import mail

    mail.init_app(app)


def jobs(app: Flask) -> None:
    """The modules that define job kinds and scheduled jobs, imported so that they register
    them: ``oauth-server worker`` builds this same app, so it runs whatever the app queues."""
    from oauth_server import lifecycle  # noqa: F401
    from oauth_server import mail  # noqa: F401
    from oauth_server.services import events  # noqa: F401


# Every answer's, and a page's too (no page of ours may be framed: clickjacking on consent
# and settings). A header a view set itself stays.
ANSWER_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"))
PAGE_HEADERS = (
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'",
    ),
)
NO_STORE_BLUEPRINTS = frozenset({"auth", "settings", "preferences"})


def security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        wanted: tuple[tuple[str, str], ...] = ANSWER_HEADERS
        if response.mimetype == "text/html":
            wanted += PAGE_HEADERS
        if request.blueprint in NO_STORE_BLUEPRINTS:
            wanted += (("Cache-Control", "no-store"),)
        for name, value in wanted:
            if name.lower() not in present:
                headers.add(name, value)
        return response


def blueprints(app: Flask) -> None:
    from oauth_server.api import bp as api_bp
    from oauth_server.auth import bp as auth_bp
    from oauth_server.health import bp as health_bp
    from oauth_server.settings import bp as settings_bp
    from oauth_server.settings import preferences_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(preferences_bp)
    app.register_blueprint(api_bp)
    from oauth_server.scim import bp as scim_bp

    app.register_blueprint(scim_bp)
    from oauth_server.oauth import bp as oauth_bp
    from oauth_server.oauth import server as oauth_server_module
    from oauth_server.oauth import wellknown_bp

    oauth_server_module.init_app(app)
    app.register_blueprint(oauth_bp)
    app.register_blueprint(wellknown_bp)
    from oauth_server.oauth import views as oauth_views

    # Protocol endpoints authenticate the client, not a browser session: no CSRF token.
    for view in (oauth_views.token, oauth_views.revoke, oauth_views.introspect):
        csrf.exempt(view)
    from oauth_server.settings.preferences import home

    app.add_url_rule("/", endpoint="home", view_func=home)
    csrf.exempt(api_bp)
    csrf.exempt(scim_bp)  # bearer tokens only, no browser session
    from oauth_server.security import bp as security_bp

    app.register_blueprint(security_bp)
    csrf.exempt(security_bp)  # JSON from GitHub or anyone, no browser session
    limiter.exempt(health_bp)


def error_pages(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(text.UnstorableText)
    def _unstorable(error: text.UnstorableText) -> Any:
        # The last line of defence tripped on a page (the API and SCIM answer it in their
        # own format): nothing was stored.
        db.session.rollback()
        return _page(400, "Bad request", error.message)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        return _page(
            400,
            "Form expired",
            "The form expired or was sent from elsewhere. Go back, reload and try again.",
        )

    for status, title in (
        (400, "Bad request"),
        (403, "Forbidden"),
        (404, "Not found"),
        (405, "Method not allowed"),
        (413, "Request too large"),
        (429, "Too many requests"),
        (500, "Something went wrong"),
    ):

        def handler(error: Any, status: int = status, title: str = title) -> Any:
            if request.path.startswith("/api/"):
                from oauth_server.api.errors import error_response

                return error_response(status, title, getattr(error, "description", title))
            if status == 500:
                message = "The server could not finish this request. Try again later."
            else:
                message = getattr(error, "description", None) or title
            return _page(status, title, message)

        app.register_error_handler(status, handler)

    for error_class in DATABASE_ERRORS:
        app.register_error_handler(error_class, database_error)


def _page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("error.html", title=title, message=message), status


#: The errors of a database that is down or restarting (no server to connect to, or the
#: connection broke mid-request), and of a transaction it rolled back (conflicts.py).
DATABASE_ERRORS = (OperationalError, InterfaceError, SQLAlchemyTimeoutError)


def database_error(error: Exception) -> Any:
    """The one answer to ``DATABASE_ERRORS``, everywhere (SCIM hands them here too).

    The database is down or restarting: 503, in the surface's format, and never a
    traceback. Only these connection-level errors: an IntegrityError or a bad query stays
    a 500, a bug. A transaction rolled back because of a concurrent one (conflicts.py) is
    no outage: the database is up, and the same request sent again will do. 409, not 503.
    Both with ``Retry-After: 1``.
    """
    from oauth_server.oauth.views import PROTOCOL_ENDPOINTS

    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass  # the connection is gone; the session is removed at teardown anyway
    if conflicts.is_conflict(error):
        status, title = 409, "Conflict"
        message = "The request conflicted with a concurrent one. Send it again."
        log.warning("database conflict", extra={"sqlstate": conflicts.sqlstate(error)})
    else:
        status, title = 503, "Service unavailable"
        message = "The database is unavailable. Try again shortly."
        log.warning(
            "database unavailable",
            extra={"error": type(getattr(error, "orig", None) or error).__name__},
        )
    g.retry_after = "1"
    headers = {"Retry-After": g.retry_after}
    if request.path.startswith("/api/"):
        from oauth_server.api.errors import error_response

        return error_response(status, title, message, headers=headers)
    if request.path.startswith("/scim/"):
        from oauth_server.scim.errors import ScimError
        from oauth_server.scim.views import respond

        refusal = ScimError(status, message, headers=headers)
        return respond(refusal.document(), refusal.status, refusal.headers)
    if request.endpoint in PROTOCOL_ENDPOINTS:
        response = jsonify({"error": "temporarily_unavailable", "error_description": message})
        response.headers.update({"Cache-Control": "no-store", **headers})
        return response, status
    if request.blueprint == "health":
        return {"status": "unavailable", "database": "unreachable"}, 503, headers
    body, status = _page(status, title, message)
    return body, status, headers
