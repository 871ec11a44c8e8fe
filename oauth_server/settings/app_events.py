"""Company settings > Developers, per app: revocation events (its "Event URL", the signing
secret shown once, the last deliveries, "Send test event", "Redeliver")."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask import flash
from flask import redirect
from flask import url_for
from flask_login import current_user

from oauth_server.auth import sudo
from oauth_server.errors import DomainError
from oauth_server.services import events
from oauth_server.settings import developer_apps
from oauth_server.settings.blueprints import bp
from oauth_server.settings.blueprints import confirmed
from oauth_server.settings.forms import EventUrlForm
from oauth_server.settings.forms import RotateEventSecretForm


@bp.post("/developers/<client_pk>/events-url")
def set_events_url(client_pk: str) -> Any:
    """Set or clear where the app's revocation events go; the first URL makes a secret."""
    app = developer_apps._app(client_pk)
    form = EventUrlForm()
    if not form.validate_on_submit():
        return developer_apps._detail(app, events_form=form), 400
    try:
        secret = events.set_events_url(app, form.events_url.data, actor=current_user)
    except DomainError as error:
        form.events_url.errors = [error.message]
        return developer_apps._detail(app, events_form=form), 400
    if secret is not None:
        # Shown in this response only; we keep it encrypted.
        return developer_apps._detail(app, events_secret=secret)
    flash("Event URL saved." if app.events_url else "Event URL removed: no more events.", "info")
    return redirect(url_for("settings.app_detail", client_pk=app.id))


@bp.post("/developers/<client_pk>/events-secret")
@sudo.required
def rotate_events_secret(client_pk: str) -> Any:
    app = developer_apps._app(client_pk)
    form = RotateEventSecretForm()
    if not form.validate_on_submit():
        abort(400, "Choose an overlap from the list.")
    try:
        secret = events.rotate_secret(
            app, overlap_hours=int(form.overlap_hours.data or "0"), actor=current_user
        )
    except DomainError as error:
        abort(400, error.message)
    flash("New signing secret created.", "info")
    return developer_apps._detail(app, events_secret=secret)


@bp.post("/developers/<client_pk>/events/test")
def send_test_event(client_pk: str) -> Any:
    confirmed()
    app = developer_apps._app(client_pk)
    try:
        events.send_test(app)
    except DomainError as error:
        abort(400, error.message)
    flash("Test event queued: its delivery appears below.", "info")
    return redirect(url_for("settings.app_detail", client_pk=app.id))


@bp.post("/developers/<client_pk>/events/<delivery_id>/redeliver")
def redeliver_event(client_pk: str, delivery_id: str) -> Any:
    confirmed()
    app = developer_apps._app(client_pk)
    try:
        events.redeliver(app, delivery_id)
    except LookupError:
        abort(404)
    except DomainError as error:
        abort(400, error.message)
    flash("Event queued again, under the same webhook-id.", "info")
    return redirect(url_for("settings.app_detail", client_pk=app.id))
