"""Company settings > Teammates: "Invite teammate", pending invitations ("Resend
invitation", "Cancel invitation") and whether SCIM-created teammates are invited."""

from __future__ import annotations

from typing import Any

from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField
from wtforms import EmailField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms.validators import InputRequired
from wtforms.validators import Length

from oauth_server.errors import DomainError
from oauth_server.models.base import utcnow
from oauth_server.models.teammate import EMAIL_MAX
from oauth_server.services import password_links
from oauth_server.services import teammates as teammate_service
from oauth_server.settings.blueprints import bp
from oauth_server.settings.blueprints import confirmed
from oauth_server.settings.blueprints import path_id
from oauth_server.settings.forms import ConfirmForm
from oauth_server.settings.forms import NoControlCharacters


class InviteForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[
            InputRequired("Enter the teammate's e-mail address."),
            Length(max=EMAIL_MAX),
            NoControlCharacters("An e-mail address"),
        ],
    )
    name = StringField(
        "Name", validators=[Length(max=200), NoControlCharacters("Name")], default=""
    )
    teams = SelectMultipleField("Teams", coerce=int, choices=[], validate_choice=False)
    admin = BooleanField("Admin")


class ScimInvitationsForm(FlaskForm):
    scim_invitations = BooleanField("Send invitations to teammates created by SCIM")


def page_context(invite_form: InviteForm | None = None) -> dict[str, Any]:
    """What the Teammates page shows of invitations, beside its list."""
    company = current_user.company
    form = invite_form or InviteForm()
    form.teams.choices = [(team.id, team.name) for team in company.teams]
    return {
        "invite_form": form,
        "pending": password_links.pending_invitations(company),
        "scim_form": ScimInvitationsForm(scim_invitations=company.scim_invitations),
        "now": utcnow(),
    }


@bp.post("/teammates/invite")
def invite_teammate() -> Response | tuple[str, int]:
    form = InviteForm()
    context = page_context(form)
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
    rows = teammate_service.listed(current_user.company)
    page = render_template("settings/teammates.html", teammates=rows, form=ConfirmForm(), **context)
    return page, 400


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
