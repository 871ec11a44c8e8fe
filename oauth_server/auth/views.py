"""``/login`` and ``/logout``; the Flask-Login user loader."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_limiter import RequestLimit
from flask_login import current_user
from flask_login import login_required
from flask_login import login_user
from flask_login import logout_user
from werkzeug.wrappers import Response

from oauth_server import ratelimits
from oauth_server import text
from oauth_server.auth import sudo
from oauth_server.auth.forms import ConfirmPasswordForm
from oauth_server.auth.forms import LoginForm
from oauth_server.extensions import limiter
from oauth_server.extensions import login_manager
from oauth_server.models import Teammate
from oauth_server.services import security_log
from oauth_server.services import sessions
from oauth_server.services import teammates
from oauth_server.services import two_factor

bp = Blueprint("auth", __name__)
log = logging.getLogger("oauth_server.audit")


@login_manager.user_loader
def load_user(secret: str) -> Teammate | None:
    """The cookie carries a browser session's secret: its live session's teammate."""
    return sessions.teammate_of(secret)


def safe_next(target: str | None) -> str:
    """A same-site path to go back to after sign-in, never another host."""
    if not target:
        return url_for("home")
    # CR, LF and other control characters have no place in a path, and would be refused
    # in the Location header: the rule of stored text (text.py) says which.
    if not text.is_storable(target):
        return url_for("home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home")
    if "\\" in target:
        return url_for("home")
    return target


def _login_account_key() -> str:
    return ratelimits.account_key(request.form.get("email") or "")


def _login_account_refused(limit: RequestLimit) -> None:
    """The account's sign-in budget is spent: the security log says so."""
    security_log.sign_in_limited(
        request.form.get("email") or "", window_seconds=limit.limit.get_expiry()
    )


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN_ACCOUNT"],
    methods=["POST"],
    key_func=_login_account_key,
    on_breach=_login_account_refused,
)
def login() -> str | Response | tuple[str, int]:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated:
            return redirect(safe_next(form.next.data))
    if form.validate_on_submit():
        teammate = teammates.authenticate(form.email.data or "", form.password.data or "")
        if teammate is not None and two_factor.is_enabled(teammate.id):
            from oauth_server.auth.two_factor import start_second_step

            return start_second_step(teammate, form.next.data or "")
        if teammate is not None:
            # A cookie session of its own: nothing from before signing in carries over, a
            # CSRF token included, and no state can be planted ahead (session fixation).
            session.clear()
            sessions.start_session(teammate)
            login_user(teammate)
            log.info("signed in", extra={"teammate_id": teammate.id})
            return redirect(safe_next(form.next.data))
        flash("Wrong e-mail or password.", "error")
        return render_template("auth/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> Response:
    # Ended on the server: a copy of the cookie signs nobody in afterwards.
    sessions.end_session(current_user.get_id(), via="logout")
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/confirm-password", methods=["GET", "POST"])
def confirm_password() -> Any:
    """ "Confirm your password" before a page that needs sudo mode; then back to it."""
    if not current_user.is_authenticated:
        return sudo.sign_in_first()
    form = ConfirmPasswordForm()
    action = url_for("auth.confirm_password")
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        return sudo.page(form, action=action)
    return sudo.refused(form, action=action) or redirect(safe_next(form.next.data))
