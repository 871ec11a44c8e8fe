"""Every teammate's own pages: home, and Preferences (their API allowance, and signing
out of every session)."""

from __future__ import annotations

from typing import Any

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_login import logout_user
from werkzeug.wrappers import Response

from oauth_server.extensions import db
from oauth_server.services import sessions
from oauth_server.services import teammates
from oauth_server.services import two_factor
from oauth_server.settings.blueprints import confirmed
from oauth_server.settings.blueprints import preferences_bp
from oauth_server.settings.forms import AllowanceForm
from oauth_server.settings.forms import ConfirmForm


@preferences_bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> Any:
    form = AllowanceForm()
    if request.method == "GET":
        form.allowed.data = current_user.private_api_access
        return _page(form)
    if not form.validate_on_submit():
        return _page(form), 400
    teammates.set_private_api_access(current_user, bool(form.allowed.data), actor=current_user)
    flash("Preferences saved.", "info")
    return redirect(url_for("preferences.preferences"))


def _page(form: AllowanceForm) -> str:
    enabled = two_factor.is_enabled(current_user.id)
    return render_template(
        "preferences.html",
        form=form,
        sessions_form=ConfirmForm(),
        two_factor_on=enabled,
        recovery_left=two_factor.unused_recovery_codes(current_user.id) if enabled else 0,
    )


@preferences_bp.post("/preferences/sessions/end")
@login_required
def end_sessions() -> Response:
    """Preferences > "Sign out of all sessions": every browser, this one included."""
    confirmed()
    sessions.end_all_sessions(current_user.id, via="preferences")
    db.session.commit()
    logout_user()
    flash("You are signed out of all sessions.", "info")
    return redirect(url_for("auth.login"))


@login_required
def home() -> str:
    return render_template("home.html")
