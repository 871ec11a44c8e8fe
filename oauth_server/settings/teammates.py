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

from oauth_server.auth import sudo
from oauth_server.errors import ValidationFailed
from oauth_server.models.base import utcnow
from oauth_server.services import admins
from oauth_server.services import password_links
from oauth_server.services import teammates as teammate_service
from oauth_server.services import two_factor
from oauth_server.settings.blueprints import bp
from oauth_server.settings.blueprints import confirmed
from oauth_server.settings.blueprints import path_id
from oauth_server.settings.forms import ConfirmForm
from oauth_server.settings.forms import InviteForm
from oauth_server.settings.forms import ScimInvitationsForm
from oauth_server.settings.forms import TwoFactorRuleForm


def _yes_or_no(field: str, question: str) -> bool:
    """A teammate form's ``true``/``false`` choice; anything else is a 400 asking ``question``."""
    choice = request.form.get(field)
    if choice not in {"true", "false"}:
        abort(400, f"{question}: {field}=true or {field}=false.")
    return choice == "true"


@bp.get("/teammates")
def teammates() -> str:
    return teammates_page()


def teammates_page(invite_form: InviteForm | None = None) -> str:
    """The Teammates page: the list, the two-factor rule, "Invite teammate" (with what the
    admin typed, when it was refused) and the pending invitations."""
    company = current_user.company
    rule = TwoFactorRuleForm(formdata=None, required=two_factor.required_for_admins(company.id))
    invite_form = invite_form or InviteForm()
    invite_form.teams.choices = [(team.id, team.name) for team in company.teams]
    return render_template(
        "settings/teammates.html",
        teammates=teammate_service.listed(company),
        form=ConfirmForm(),
        rule_form=rule,
        two_factor_on=two_factor.teammates_with_two_factor(company),
        invite_form=invite_form,
        pending=password_links.pending_invitations(company),
        scim_form=ScimInvitationsForm(scim_invitations=company.scim_invitations),
        now=utcnow(),
    )


@bp.post("/teammates/two-factor")
@sudo.required
def set_two_factor_rule() -> Response:
    """ "Require two-factor for admins": on, an admin without it is sent to set it up."""
    form = TwoFactorRuleForm()
    if not form.validate_on_submit():
        confirmed()  # an expired form: 400 asking to reload
    required = bool(form.required.data)
    try:
        two_factor.set_required_for_admins(current_user.company, required, actor=current_user)
    except ValidationFailed as problem:
        flash(problem.message, "error")
        return redirect(url_for("settings.teammates"))
    flash(
        "Two-factor is now required for admins."
        if required
        else "Two-factor is now optional for admins.",
        "info",
    )
    return redirect(url_for("settings.teammates"))


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
@sudo.required
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
