"""Company settings > Teammates: "Invite teammate", pending invitations ("Resend
invitation", "Cancel invitation") and whether SCIM-created teammates are invited."""

from __future__ import annotations

from flask import flash
from flask import redirect
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from oauth_server.auth import sudo
from oauth_server.errors import DomainError
from oauth_server.services import password_links
from oauth_server.services import teammates as teammate_service
from oauth_server.settings.blueprints import bp
from oauth_server.settings.blueprints import confirmed
from oauth_server.settings.blueprints import path_id
from oauth_server.settings.forms import InviteForm
from oauth_server.settings.forms import ScimInvitationsForm
from oauth_server.settings.teammates import teammates_page


@bp.post("/teammates/invite")
@sudo.required  # it makes an account, an admin's perhaps: as Make admin does
def invite_teammate() -> Response | tuple[str, int]:
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invited = password_links.invite(
                current_user.company,
                email=form.email.data or "",
                name=form.name.data or "",
                team_ids=list(form.teams.data or []),
                is_admin=bool(form.admin.data),
                actor=current_user,
            )
        except DomainError as problem:
            field = getattr(form, problem.field or "", None) or form.email
            field.errors = [problem.message]
        else:
            flash(f"Invitation sent to {invited.email}.", "info")
            return redirect(url_for("settings.teammates"))
    return teammates_page(form), 400


@bp.post("/teammates/<teammate_id>/invitation/resend")
def resend_invitation(teammate_id: str) -> Response:
    confirmed()
    teammate = teammate_service.in_company(current_user.company, path_id(teammate_id, "teammate"))
    password_links.resend_invitation(teammate, actor=current_user)
    flash(f"A new invitation was sent to {teammate.email}; the one before no longer works.", "info")
    return redirect(url_for("settings.teammates"))


@bp.post("/teammates/<teammate_id>/invitation/cancel")
def cancel_invitation(teammate_id: str) -> Response:
    confirmed()
    teammate = teammate_service.in_company(current_user.company, path_id(teammate_id, "teammate"))
    email = teammate.email
    if password_links.cancel_invitation(teammate, actor=current_user):
        flash(f"The invitation of {email} is cancelled, and the teammate removed.", "info")
    else:
        flash(f"The invitation of {email} is cancelled; the link no longer works.", "info")
    return redirect(url_for("settings.teammates"))


@bp.post("/teammates/scim-invitations")
def set_scim_invitations() -> Response:
    form = ScimInvitationsForm()
    confirmed()
    enabled = bool(form.scim_invitations.data)
    password_links.set_scim_invitations(current_user.company, enabled, actor=current_user)
    state = "get an invitation e-mail" if enabled else "get no invitation e-mail"
    flash(f"Teammates created by SCIM {state} now.", "info")
    return redirect(url_for("settings.teammates"))
