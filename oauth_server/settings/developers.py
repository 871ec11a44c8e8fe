"""Company settings > Developers (partner apps) and the "Apps with Access" grants.

No OAuth token is ever created here: grants come only from the consent redirect.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import RadioField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields import SelectChoice  # type: ignore[attr-defined]  # WTForms 3.3; stubs 3.2
from wtforms.validators import InputRequired
from wtforms.validators import Length

from oauth_server import scopes
from oauth_server.errors import DomainError
from oauth_server.extensions import db
from oauth_server.services import clients
from oauth_server.services import grants
from oauth_server.services import revocation
from oauth_server.settings.forms import ConfirmForm
from oauth_server.settings.forms import NoControlCharacters
from oauth_server.settings.views import FORM_EXPIRED
from oauth_server.settings.views import _id
from oauth_server.settings.views import bp


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class NewAppForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[_strip],
        validators=[
            InputRequired("Name is required."),
            Length(
                max=clients.NAME_MAX,
                message=f"Name must be at most {clients.NAME_MAX} characters.",
            ),
            NoControlCharacters("Name"),
        ],
    )
    redirect_uris = TextAreaField(
        "Redirect URIs",
        validators=[
            InputRequired("Enter at least one redirect URI."),
            NoControlCharacters("Redirect URIs", multiline=True),
        ],
    )
    client_type = RadioField(
        "Type",
        choices=[
            SelectChoice("confidential", "Confidential (a server that keeps a secret)"),
            SelectChoice("public", "Public (a browser or mobile app, no secret)"),
        ],
        default="confidential",
        validators=[InputRequired()],
    )


def _uris(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _app(client_pk: str) -> Any:
    """One of this company's apps: 400 for a malformed id, 404 for any other company's."""
    return clients.company_client(current_user.company, _id(client_pk, "partner app"))


@bp.get("/developers")
def developers() -> str:
    return render_template(
        "settings/developers.html", apps=clients.company_clients(current_user.company)
    )


@bp.route("/developers/new", methods=["GET", "POST"])
def new_app() -> Any:
    form = NewAppForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                client, secret = clients.register_client(
                    name=form.name.data or "",
                    redirect_uris=_uris(form.redirect_uris.data or ""),
                    public=form.client_type.data == "public",
                    owner_company=current_user.company,
                    actor=current_user,
                )
            except DomainError as error:
                field = getattr(form, error.field or "name", form.name)
                field.errors = [*field.errors, error.message]
            else:
                # The secret is shown in this response only; we keep its hash.
                return render_template(
                    "settings/app_detail.html", app=client, secret=secret, form=ConfirmForm()
                )
        return render_template("settings/new_app.html", form=form), 400
    return render_template("settings/new_app.html", form=form)


@bp.get("/developers/<client_pk>")
def app_detail(client_pk: str) -> str:
    return render_template(
        "settings/app_detail.html", app=_app(client_pk), secret=None, form=ConfirmForm()
    )


def _confirmed() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400, FORM_EXPIRED)


@bp.post("/developers/<client_pk>/rotate-secret")
def rotate_app_secret(client_pk: str) -> Any:
    _confirmed()
    app = _app(client_pk)
    try:
        secret = clients.rotate_secret(app, actor=current_user)
    except DomainError as error:
        abort(400, error.message)
    flash("New secret created. The old one no longer works.", "info")
    return render_template("settings/app_detail.html", app=app, secret=secret, form=ConfirmForm())


@bp.post("/developers/<client_pk>/delete")
def delete_app(client_pk: str) -> Response:
    _confirmed()
    app = _app(client_pk)
    clients.delete_client(app, actor=current_user, via=revocation.Via.SETTINGS)
    flash(f"App “{app.name}” deleted; every workspace's access through it is revoked.", "info")
    return redirect(url_for("settings.developers"))


def _grant(grant_id: str) -> Any:
    return grants.company_grant(current_user.company, _id(grant_id, "grant"))


@bp.get("/plugins-api/api/apps/<grant_id>")
def grant_detail(grant_id: str) -> str:
    company = current_user.company
    grant = _grant(grant_id)
    return render_template(
        "settings/grant_detail.html",
        grant=grant,
        scope_labels=[scopes.label(s, company.teams) for s in grant.scopes],
        form=ConfirmForm(),
    )


@bp.post("/plugins-api/api/apps/<grant_id>/revoke")
def revoke_grant(grant_id: str) -> Response:
    _confirmed()
    grant = _grant(grant_id)
    revoked = revocation.revoke(grant, actor=current_user, via=revocation.Via.SETTINGS)
    db.session.commit()
    if revoked:
        flash(f"Access revoked for “{grant.client.name}”.", "info")
    else:
        flash(f"“{grant.client.name}” had no access left.", "info")
    return redirect(url_for("settings.api_tokens"))
