"""Company settings > Teammates: each teammate's API allowance and admin role."""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from oauth_server.services import admins
from oauth_server.services import teammates as teammate_service
from oauth_server.settings.blueprints import bp
from oauth_server.settings.blueprints import confirmed
from oauth_server.settings.blueprints import path_id
from oauth_server.settings.forms import ConfirmForm
from oauth_server.settings.invitations import page_context


def _yes_or_no(field: str, question: str) -> bool:
    """A teammate form's ``true``/``false`` choice; anything else is a 400 asking ``question``."""
    choice = request.form.get(field)
    if choice not in {"true", "false"}:
        abort(400, f"{question}: {field}=true or {field}=false.")
    return choice == "true"


@bp.get("/teammates")
def teammates() -> str:
    rows = teammate_service.listed(current_user.company)
    return render_template(
        "settings/teammates.html", teammates=rows, form=ConfirmForm(), **page_context()
    )


@bp.post("/teammates/<teammate_id>/private-api-access")
def set_teammate_access(teammate_id: str) -> Response:
    confirmed()
    allowed = _yes_or_no("allowed", "Say whether API access is allowed")
    teammate = teammate_service.in_company(current_user.company, path_id(teammate_id, "teammate"))
    teammate_service.set_private_api_access(teammate, allowed, actor=current_user)
    state = "allowed" if allowed else "stopped"
    flash(f"API access to {teammate.display_name}'s private resources {state}.", "info")
    return redirect(url_for("settings.teammates"))


@bp.post("/teammates/<teammate_id>/admin")
def set_teammate_admin(teammate_id: str) -> Response:
    """ "Make admin" / "Remove admin"; the company's last active admin stays one."""
    confirmed()
    make_admin = _yes_or_no("admin", "Say whether the teammate is an admin")
    teammate = teammate_service.in_company(current_user.company, path_id(teammate_id, "teammate"))
    try:
        admins.set_admin(teammate, make_admin, actor_id=current_user.id, via="settings")
    except admins.LastAdmin as error:
        flash(error.message, "error")
        return redirect(url_for("settings.teammates"))
    role = "an admin now" if make_admin else "no longer an admin"
    flash(f"{teammate.display_name} is {role}.", "info")
    if not current_user.is_admin:  # they removed their own role: settings are closed now
        return redirect(url_for("home"))
    return redirect(url_for("settings.teammates"))
