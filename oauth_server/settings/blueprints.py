"""The settings blueprints and what every settings page shares: admins only, the 404
of a row this company does not have, ids from the URL, and the confirmation of a POST."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import request
from flask_login import current_user
from werkzeug import exceptions as http
from werkzeug.wrappers import Response

from oauth_server import ids
from oauth_server.errors import NotFound
from oauth_server.settings.forms import ConfirmForm

bp = Blueprint("settings", __name__, url_prefix="/settings")

preferences_bp = Blueprint("preferences", __name__)

FORM_EXPIRED = "The form expired. Reload the page and try again."


@bp.before_request
def _admins_only() -> Response | None:
    # Not Flask-Login's login_required: it lets every OPTIONS request through, and an
    # anonymous visitor's OPTIONS would then reach the admin check.
    if not current_user.is_authenticated:
        unauthorized: Response = current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
        return unauthorized
    if not current_user.is_admin:
        abort(403, "Only company admins can open Company settings.")
    return None


@bp.errorhandler(NotFound)
def _not_found(error: NotFound) -> Any:
    """A row this company does not have: the app's 404 page, with the service's message."""
    return current_app.handle_http_exception(http.NotFound(error.message))


def path_id(raw: str, what: str) -> int:
    """A positive id from the URL, or 400: a malformed id is bad input, not a missing row.

    A well-formed id past the id columns' range names no row: 404, like any unknown id.
    """
    number = ids.whole_number(raw)
    if number is None or number < 1:
        abort(400, f"A {what} id is a positive whole number.")
    if not ids.is_id(number):
        abort(404, f"No such {what}.")
    return number


def cursor(name: str = "before") -> int | None:
    """A paging cursor: every id is below one past the range, so it means the first page."""
    raw = request.args.get(name)
    if raw is None:
        return None
    what = "token" if name == "before" else "partner app"
    number = ids.whole_number(raw)
    if number is None or number < 1:
        abort(400, f"A {what} id is a positive whole number.")
    return min(number, ids.ID_MAX + 1)


def confirmed() -> None:
    """A POST's confirmation (its CSRF token): a 400 asking to reload when it expired."""
    if not ConfirmForm().validate_on_submit():
        abort(400, FORM_EXPIRED)
