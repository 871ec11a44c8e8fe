"""Company settings > Plugins & API > API, Teammates; Preferences.

Views are thin: read the form, call one service, render or redirect.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_login import logout_user
from werkzeug import exceptions as http
from werkzeug.wrappers import Response

from oauth_server import ids
from oauth_server import scopes
from oauth_server.errors import DomainError
from oauth_server.errors import NotFound
from oauth_server.extensions import db
from oauth_server.services import admins
from oauth_server.services import grants
from oauth_server.services import personal_tokens
from oauth_server.services import revocation
from oauth_server.services import sessions
from oauth_server.services import workspace
from oauth_server.settings.forms import AllowanceForm
from oauth_server.settings.forms import ConfirmForm
from oauth_server.settings.forms import NewTokenForm

bp = Blueprint("settings", __name__, url_prefix="/settings")
preferences_bp = Blueprint("preferences", __name__)

FORM_EXPIRED = "The form expired. Reload the page and try again."


@bp.before_request
@login_required
def _admins_only() -> None:
    if not current_user.is_admin:
        abort(403, "Only company admins can open Company settings.")


@bp.errorhandler(NotFound)
def _not_found(error: NotFound) -> Any:
    """A row this company does not have: the app's 404 page, with the service's message."""
    return current_app.handle_http_exception(http.NotFound(error.message))


def _id(raw: str, what: str) -> int:
    """A positive id from the URL, or 400: a malformed id is bad input, not a missing row.

    A well-formed id past the id columns' range names no row: 404, like any unknown id.
    """
    number = ids.whole_number(raw)
    if number is None or number < 1:
        abort(400, f"A {what} id is a positive whole number.")
    if not ids.is_id(number):
        abort(404, f"No such {what}.")
    return number


def _cursor(name: str = "before") -> int | None:
    """A paging cursor: every id is below one past the range, so it means the first page."""
    raw = request.args.get(name)
    if raw is None:
        return None
    what = "token" if name == "before" else "partner app"
    number = ids.whole_number(raw)
    if number is None or number < 1:
        abort(400, f"A {what} id is a positive whole number.")
    return min(number, ids.ID_MAX + 1)


@bp.get("/")
def index() -> Response:
    return redirect(url_for("settings.api_tokens"))


@bp.get("/plugins-api/api")
def api_tokens() -> str:
    company = current_user.company
    before = _cursor()
    page_size = current_app.config["TOKEN_LIST_PAGE_SIZE"]
    rows, next_cursor = personal_tokens.list_personal_tokens(
        company, before_id=before, limit=page_size
    )
    app_grants, grants_next = grants.list_live_grants(
        company, before_id=_cursor("apps_before"), limit=page_size
    )
    return render_template(
        "settings/api_tokens.html",
        tokens=rows,
        next_cursor=next_cursor,
        grants=app_grants,
        grants_next=grants_next,
        paged=before is not None,
        label=lambda scope: scopes.label(scope, company.teams),
        status=personal_tokens.status,
    )


@bp.route("/plugins-api/api/tokens/new", methods=["GET", "POST"])
def new_token() -> Any:
    company = current_user.company
    form = NewTokenForm()
    form.offer(company)
    if request.method == "GET":
        return render_template("settings/new_token.html", form=form)
    if form.validate_on_submit():
        try:
            token, _value = personal_tokens.issue_personal_token(
                company,
                actor=current_user,
                name=form.name.data or "",
                scope=form.scope.data or "",
                expires_in_days=form.expiry_days,
            )
        except DomainError as error:
            target = getattr(form, error.field or "name", form.name)
            target.errors = [*target.errors, error.message]
        else:
            # The help article, step 6: "You will now see this token in your list of tokens.
            # Click on the token to access and copy it."
            flash(f"Token “{token.name}” created. Click it to copy its value.", "info")
            return redirect(url_for("settings.api_tokens"))
    return render_template("settings/new_token.html", form=form), 400


@bp.get("/plugins-api/api/tokens/<token_id>")
def token_detail(token_id: str) -> str:
    company = current_user.company
    token = personal_tokens.get_personal_token(company, _id(token_id, "token"))
    return render_template(
        "settings/token_detail.html",
        token=token,
        value=personal_tokens.reveal(token),
        scope_label=scopes.label(token.scope, company.teams),
        status=personal_tokens.status(token),
        form=ConfirmForm(),
    )


@bp.post("/plugins-api/api/tokens/<token_id>/revoke")
def revoke_token(token_id: str) -> Response:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, FORM_EXPIRED)
    token = personal_tokens.get_personal_token(current_user.company, _id(token_id, "token"))
    revoked = revocation.revoke(token, actor=current_user, via=revocation.Via.SETTINGS)
    db.session.commit()
    if revoked:
        flash(f"Access revoked for “{token.name}”.", "info")
    else:
        flash(f"“{token.name}” was already revoked.", "info")
    return redirect(url_for("settings.api_tokens"))


def _yes_or_no(field: str, question: str) -> bool:
    """A teammate form's ``true``/``false`` choice; anything else is a 400 asking ``question``."""
    choice = request.form.get(field)
    if choice not in {"true", "false"}:
        abort(400, f"{question}: {field}=true or {field}=false.")
    return choice == "true"


@bp.get("/teammates")
def teammates() -> str:
    rows = workspace.list_teammates(current_user.company)
    return render_template("settings/teammates.html", teammates=rows, form=ConfirmForm())


@bp.post("/teammates/<teammate_id>/private-api-access")
def set_teammate_access(teammate_id: str) -> Response:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, FORM_EXPIRED)
    allowed = _yes_or_no("allowed", "Say whether API access is allowed")
    teammate = workspace.teammate_in_company(current_user.company, _id(teammate_id, "teammate"))
    workspace.set_private_api_access(teammate, allowed, actor=current_user)
    state = "allowed" if allowed else "stopped"
    flash(f"API access to {teammate.display_name}'s private resources {state}.", "info")
    return redirect(url_for("settings.teammates"))


@bp.post("/teammates/<teammate_id>/admin")
def set_teammate_admin(teammate_id: str) -> Response:
    """"Make admin" / "Remove admin"; the company's last active admin stays one."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, FORM_EXPIRED)
    make_admin = _yes_or_no("admin", "Say whether the teammate is an admin")
    teammate = workspace.teammate_in_company(current_user.company, _id(teammate_id, "teammate"))
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


@preferences_bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> Any:
    form = AllowanceForm()
    if request.method == "GET":
        form.allowed.data = current_user.private_api_access
        return render_template("preferences.html", form=form, sessions_form=ConfirmForm())
    if not form.validate_on_submit():
        return render_template("preferences.html", form=form, sessions_form=ConfirmForm()), 400
    workspace.set_private_api_access(current_user, bool(form.allowed.data), actor=current_user)
    flash("Preferences saved.", "info")
    return redirect(url_for("preferences.preferences"))


@preferences_bp.post("/preferences/sessions/end")
@login_required
def end_sessions() -> Response:
    """Preferences > "Sign out of all sessions": every browser, this one included."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, FORM_EXPIRED)
    sessions.end_all_sessions(current_user.id, via="preferences")
    db.session.commit()
    logout_user()
    flash("You are signed out of all sessions.", "info")
    return redirect(url_for("auth.login"))


@login_required
def home() -> str:
    return render_template("home.html")
