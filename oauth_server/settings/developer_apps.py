"""Company settings > Developers: the partner apps a company registers (name, redirect
URIs, confidential or public), their secrets, and their deletion.
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
from werkzeug.wrappers import Response

from oauth_server import scopes
from oauth_server.auth import sudo
from oauth_server.errors import DomainError
from oauth_server.models import OAuthClient
from oauth_server.services import clients
from oauth_server.services import events
from oauth_server.services import revocation
from oauth_server.settings.blueprints import bp
from oauth_server.settings.blueprints import confirmed
from oauth_server.settings.blueprints import path_id
from oauth_server.settings.forms import ConfirmForm
from oauth_server.settings.forms import EventUrlForm
from oauth_server.settings.forms import MaxScopeForm
from oauth_server.settings.forms import NewAppForm
from oauth_server.settings.forms import RefreshGraceForm
from oauth_server.settings.forms import RotateEventSecretForm
from oauth_server.settings.forms import grace_seconds


def _uris(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _app(client_pk: str) -> OAuthClient:
    """One of this company's apps: 400 for a malformed id, 404 for any other company's."""
    return clients.company_client(current_user.company, path_id(client_pk, "partner app"))


@bp.get("/developers")
def developers() -> str:
    return render_template(
        "settings/developers.html", apps=clients.company_clients(current_user.company)
    )


@bp.route("/developers/new", methods=["GET", "POST"])
@sudo.required
def new_app() -> Any:
    form = NewAppForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                client, secret = clients.register_client(
                    name=form.name.data or "",
                    redirect_uris=_uris(form.redirect_uris.data or ""),
                    public=form.client_type.data == "public",
                    refresh_grace_seconds=grace_seconds(form.refresh_grace_seconds),
                    owner_company=current_user.company,
                    actor=current_user,
                )
            except DomainError as error:
                field = getattr(form, error.field or "name", form.name)
                field.errors = [*field.errors, error.message]
            else:
                # The secret is shown in this response only; we keep its hash.
                return _detail(client, secret=secret)
        return render_template("settings/new_app.html", form=form), 400
    return render_template("settings/new_app.html", form=form)


def _detail(
    app: OAuthClient,
    *,
    secret: str | None = None,
    grace: RefreshGraceForm | None = None,
    maximum: MaxScopeForm | None = None,
    events_secret: str | None = None,
    events_form: EventUrlForm | None = None,
) -> str:
    """An app's page: its settings, its revocation events, and its secret (or event signing
    secret) when one was just created."""
    if grace is None:
        grace = RefreshGraceForm(refresh_grace_seconds=str(app.refresh_grace_seconds))
    if maximum is None:
        maximum = MaxScopeForm(max_scope=app.max_scope or "")
    return render_template(
        "settings/app_detail.html",
        app=app,
        secret=secret,
        form=ConfirmForm(),
        grace_form=grace,
        max_scope_form=maximum,
        labels=lambda scope: scopes.labels(scope, current_user.company.teams),
        events_secret=events_secret,
        events_url_form=events_form or EventUrlForm(events_url=app.events_url or ""),
        events_rotate_form=RotateEventSecretForm(),
        deliveries=events.recent(app),
    )


@bp.get("/developers/<client_pk>")
def app_detail(client_pk: str) -> str:
    return _detail(_app(client_pk))


@bp.post("/developers/<client_pk>/refresh-grace")
def set_refresh_grace(client_pk: str) -> Any:
    """Set how long a just-spent refresh token of the app answers again with its new pair."""
    app = _app(client_pk)
    form = RefreshGraceForm()
    if not form.validate_on_submit():
        return _detail(app, grace=form), 400
    try:
        clients.set_refresh_grace(
            app, grace_seconds(form.refresh_grace_seconds), actor=current_user
        )
    except DomainError as error:
        form.refresh_grace_seconds.errors = [error.message]
        return _detail(app, grace=form), 400
    flash(f"Refresh grace period set to {app.refresh_grace_seconds} seconds.", "info")
    return redirect(url_for("settings.app_detail", client_pk=app.id))


@bp.post("/developers/<client_pk>/max-scope")
def set_max_scope(client_pk: str) -> Any:
    """Set the most the app may ask for at authorization and refresh (empty: no maximum)."""
    app = _app(client_pk)
    form = MaxScopeForm()
    if not form.validate_on_submit():
        return _detail(app, maximum=form), 400
    try:
        clients.set_max_scope(app, form.max_scope.data, actor=current_user)
    except DomainError as error:
        form.max_scope.errors = [error.message]
        return _detail(app, maximum=form), 400
    flash("Maximum scope saved." if app.max_scope else "Maximum scope removed.", "info")
    return redirect(url_for("settings.app_detail", client_pk=app.id))


@bp.post("/developers/<client_pk>/rotate-secret")
@sudo.required
def rotate_app_secret(client_pk: str) -> Any:
    confirmed()
    app = _app(client_pk)
    try:
        secret = clients.rotate_secret(app, actor=current_user)
    except DomainError as error:
        abort(400, error.message)
    flash("New secret created. The old one no longer works.", "info")
    return _detail(app, secret=secret)


@bp.post("/developers/<client_pk>/delete")
def delete_app(client_pk: str) -> Response:
    confirmed()
    app = _app(client_pk)
    clients.delete_client(app, actor=current_user, via=revocation.Via.SETTINGS)
    flash(f"App “{app.name}” deleted; every workspace's access through it is revoked.", "info")
    return redirect(url_for("settings.developers"))
