"""Company settings > Plugins & API > API, Teammates; Preferences.

Views are thin: read the form, call one service, render or redirect.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from oauth_server import scopes
from oauth_server.errors import DomainError
from oauth_server.errors import NotFound
from oauth_server.extensions import db
from oauth_server.models import Teammate
from oauth_server.services import personal_tokens
from oauth_server.services import revocation
from oauth_server.services import workspace
from oauth_server.settings.forms import EXPIRY_LABELS
from oauth_server.settings.forms import AllowanceForm
from oauth_server.settings.forms import ConfirmForm
from oauth_server.settings.forms import NewTokenForm

bp = Blueprint("settings", __name__, url_prefix="/settings")
preferences_bp = Blueprint("preferences", __name__)


@bp.before_request
@login_required
def _admins_only() -> None:
    if not current_user.is_admin:
        abort(403, "Only company admins can open Company settings.")


def _or_404(error: NotFound) -> None:
    abort(404, error.message)


def _cursor() -> int | None:
    raw = request.args.get("before", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 18 else None


@bp.get("/")
def index() -> Response:
    return redirect(url_for("settings.api_tokens"))


@bp.get("/plugins-api/api")
def api_tokens() -> str:
    company = current_user.company
    rows, next_cursor = personal_tokens.list_personal_tokens(
        company,
        before_id=_cursor(),
        limit=current_app_page_size(),
    )
    return render_template(
        "settings/api_tokens.html",
        tokens=rows,
        next_cursor=next_cursor,
        label=lambda scope: scopes.label(scope, company.teams),
        status=personal_tokens.status,
    )


def current_app_page_size() -> int:
    from flask import current_app

    size: int = current_app.config["TOKEN_LIST_PAGE_SIZE"]
    return size


@bp.route("/plugins-api/api/tokens/new", methods=["GET", "POST"])
def new_token() -> Any:
    company = current_user.company
    form = NewTokenForm()
    form.offer(company)
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                token, _value = personal_tokens.issue_personal_token(
                    company,
                    actor=current_user,
                    name=form.name.data or "",
                    scope=form.scope.data or "",
                    expires_in_days=int(form.expires_in_days.data)
                    if form.expires_in_days.data
                    else None,
                )
            except DomainError as error:
                target = getattr(form, error.field or "name", form.name)
                target.errors = [*target.errors, error.message]
            else:
                flash(f"Token “{token.name}” created.", "info")
                return redirect(url_for("settings.token_detail", token_id=token.id))
        return render_template("settings/new_token.html", form=form), 400
    return render_template("settings/new_token.html", form=form)


@bp.get("/plugins-api/api/tokens/<int:token_id>")
def token_detail(token_id: int) -> str:
    company = current_user.company
    try:
        token = personal_tokens.get_personal_token(company, token_id)
    except NotFound as error:
        _or_404(error)
    return render_template(
        "settings/token_detail.html",
        token=token,
        value=personal_tokens.reveal(token),
        scope_label=scopes.label(token.scope, company.teams),
        status=personal_tokens.status(token),
        form=ConfirmForm(),
    )


@bp.post("/plugins-api/api/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> Response:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    try:
        token = personal_tokens.get_personal_token(current_user.company, token_id)
    except NotFound as error:
        _or_404(error)
    if revocation.revoke(token, actor=current_user, via="settings"):
        flash(f"Access revoked for “{token.name}”.", "info")
    else:
        flash(f"“{token.name}” was already revoked.", "info")
    return redirect(url_for("settings.api_tokens"))


@bp.get("/teammates")
def teammates() -> str:
    company = current_user.company
    rows = db.session.scalars(
        select(Teammate).where(Teammate.company_id == company.id).order_by(Teammate.email)
    ).all()
    return render_template("settings/teammates.html", teammates=rows, form=ConfirmForm())


@bp.post("/teammates/<int:teammate_id>/private-api-access")
def set_teammate_access(teammate_id: int) -> Response:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    choice = request.form.get("allowed")
    if choice not in {"true", "false"}:
        abort(400, "Say whether API access is allowed.")
    try:
        teammate = workspace.teammate_in_company(current_user.company, teammate_id)
    except NotFound as error:
        _or_404(error)
    workspace.set_private_api_access(teammate, choice == "true", actor=current_user)
    state = "allowed" if choice == "true" else "stopped"
    flash(f"API access to {teammate.display_name}'s private resources {state}.", "info")
    return redirect(url_for("settings.teammates"))


@preferences_bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> Any:
    form = AllowanceForm()
    if request.method == "GET":
        form.allowed.data = current_user.private_api_access
    elif form.validate_on_submit():
        workspace.set_private_api_access(current_user, bool(form.allowed.data), actor=current_user)
        flash("Preferences saved.", "info")
        return redirect(url_for("preferences.preferences"))
    else:
        return render_template("preferences.html", form=form), 400
    return render_template("preferences.html", form=form)


@login_required
def home() -> str:
    return render_template("home.html")


__all__ = ["bp", "preferences_bp", "home", "EXPIRY_LABELS"]
