"""Sign-in's second step, and the admins a company requires two-factor of.

After a right password, a teammate with two-factor has no browser session yet: the
signed cookie notes who passed the password and when (``PENDING``, for
``PENDING_SECONDS``), and ``/login/two-factor`` asks for an "Authentication code". Only a
right code starts the session. The cookie is signed (SECRET_KEY), so it cannot name
someone else, and it is cleared before and after: nothing from before sign-in carries
over (session fixation).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.sessions import NullSession
from flask_login import current_user
from flask_login import login_user
from werkzeug.wrappers import Response

from oauth_server import ratelimits
from oauth_server.auth.views import bp
from oauth_server.auth.views import safe_next
from oauth_server.extensions import db
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.services import sessions
from oauth_server.services import two_factor
from oauth_server.settings.forms import CodeForm

log = logging.getLogger("oauth_server.audit")

PENDING = "two_factor_pending"
PENDING_SECONDS = 300
SETUP_ENDPOINT = "preferences.two_factor_setup"
# What an admin who must set two-factor up can still open.
OPEN_TO_ENROLLING = {
    "static",
    "auth.logout",
    "auth.login",
    "auth.two_factor",
    "auth.confirm_password",
    SETUP_ENDPOINT,
}


def start_second_step(teammate: Teammate, next_target: str) -> Response:
    """The password was right and the teammate has two-factor: ask for a code."""
    session.clear()
    session[PENDING] = {
        "teammate_id": teammate.id,
        "at": utcnow().timestamp(),
        "next": safe_next(next_target),
    }
    return redirect(url_for("auth.two_factor"))


def _pending() -> dict[str, Any] | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    at, teammate_id = pending.get("at"), pending.get("teammate_id")
    if not isinstance(at, int | float) or not isinstance(teammate_id, int):
        return None
    if utcnow().timestamp() - at > PENDING_SECONDS:
        return None
    return pending


@bp.route("/login/two-factor", methods=["GET", "POST"], endpoint="two_factor")
def two_factor_step() -> Any:
    pending = _pending()
    if pending is None:
        session.pop(PENDING, None)
        flash("Sign in again: the sign-in took too long or was not started.", "error")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if request.method == "GET":
        return render_template("auth/two_factor.html", form=form)
    if not form.validate_on_submit():
        return render_template("auth/two_factor.html", form=form), 400
    teammate_id: int = pending["teammate_id"]
    ratelimits.spend_code_check(teammate_id)
    teammate = db.session.get(Teammate, teammate_id)
    if teammate is None or not teammate.active:
        session.clear()
        return redirect(url_for("auth.login"))
    try:
        how = two_factor.verify(teammate.id, form.code.data or "")
    except two_factor.InvalidCode as error:
        log.info("two-factor code refused", extra={"teammate_id": teammate.id})
        form.code.errors = [error.message]
        return render_template("auth/two_factor.html", form=form), 401
    target = safe_next(pending.get("next"))
    session.clear()
    sessions.start_session(teammate)
    login_user(teammate)
    log.info("signed in", extra={"teammate_id": teammate.id, "second_factor": how})
    if how == "recovery":
        left = two_factor.unused_recovery_codes(teammate.id)
        flash(f"Recovery code used: {left} left. Make new ones in Preferences.", "info")
    return redirect(target)


@bp.before_app_request
def _admins_enrol_first() -> Response | None:
    """An admin of a company that requires two-factor, without it, opens nothing else
    than its setup (and signing out) until it is on."""
    if request.endpoint is None or request.method == "OPTIONS":
        return None
    # Bearer, protocol and health requests have no browser session: nobody is signed in.
    if isinstance(session, NullSession) or request.endpoint in OPEN_TO_ENROLLING:
        return None
    if not current_user.is_authenticated or not current_user.is_admin:
        return None
    if not two_factor.must_enrol(current_user):
        return None
    flash("Your company requires two-factor for admins: set it up to continue.", "info")
    return redirect(url_for(SETUP_ENDPOINT))
