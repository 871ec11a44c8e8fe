"""Company settings > Plugins & API > API: personal tokens, and the list of Apps with
Access beside them.

Views are thin: read the form, call one service, render or redirect.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
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
from oauth_server.extensions import db
from oauth_server.models import OAuthGrant
from oauth_server.models import PersonalToken
from oauth_server.services import grants
from oauth_server.services import personal_tokens
from oauth_server.services import revocation
from oauth_server.services import token_policy
from oauth_server.settings.blueprints import bp
from oauth_server.settings.blueprints import confirmed
from oauth_server.settings.blueprints import cursor
from oauth_server.settings.blueprints import path_id
from oauth_server.settings.forms import ConfirmForm
from oauth_server.settings.forms import NewTokenForm
from oauth_server.settings.forms import TokenPolicyForm


@bp.get("/")
def index() -> Response:
    return redirect(url_for("settings.api_tokens"))


def _policy_form() -> TokenPolicyForm:
    policy = token_policy.policy_of(current_user.company_id)
    return TokenPolicyForm(
        formdata=None,
        max_token_lifetime=str(policy.max_lifetime_days or ""),
        revoke_unused=str(policy.revoke_unused_days or ""),
    )


@bp.get("/plugins-api/api")
def api_tokens() -> Any:
    return _api_page(_policy_form())


def _api_page(policy_form: TokenPolicyForm, status: int = 200) -> Any:
    company = current_user.company
    before = cursor()
    page_size = current_app.config["TOKEN_LIST_PAGE_SIZE"]
    rows, next_cursor = personal_tokens.list_personal_tokens(
        company, before_id=before, limit=page_size
    )
    app_grants, grants_next = grants.list_live_grants(
        company, before_id=cursor("apps_before"), limit=page_size
    )
    page = render_template(
        "settings/api_tokens.html",
        policy_form=policy_form,
        tokens=rows,
        next_cursor=next_cursor,
        grants=app_grants,
        grants_next=grants_next,
        paged=before is not None,
        label=lambda scope: scopes.label(scope, company.teams),
        labels=lambda scope: scopes.labels(scope, company.teams),
        status=personal_tokens.status,
        status_labels=personal_tokens.STATUS_LABELS,
    )
    return page, status


@bp.post("/plugins-api/api/policy")
@sudo.required
def set_token_policy() -> Any:
    """The Policy section: "Maximum token lifetime", "Revoke tokens unused for"."""
    form = TokenPolicyForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            confirmed()  # an expired form: 400 asking to reload
        return _api_page(form, 400)
    try:
        token_policy.set_policy(
            current_user.company,
            max_lifetime_days=form.max_days,
            revoke_unused_days=form.unused_days,
            actor=current_user,
        )
    except DomainError as error:
        form.max_token_lifetime.errors = [error.message]
        return _api_page(form, 400)
    flash("Token policy saved.", "info")
    return redirect(url_for("settings.api_tokens"))


@bp.route("/plugins-api/api/tokens/new", methods=["GET", "POST"])
@sudo.required
def new_token() -> Any:
    company = current_user.company
    form = NewTokenForm()
    form.offer(company, personal_tokens.expiry_choices(company))
    if request.method == "GET":
        return render_template("settings/new_token.html", form=form)
    if form.validate_on_submit():
        try:
            token, _value = personal_tokens.issue_personal_token(
                company,
                actor=current_user,
                name=form.name.data or "",
                scope=form.chosen_scope,
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
    """A token's page. Its value only in sudo mode; its "Revoke access" button always."""
    company = current_user.company
    token = personal_tokens.get_personal_token(company, path_id(token_id, "token"))
    revealed = sudo.in_sudo_mode()
    return render_template(
        "settings/token_detail.html",
        token=token,
        revealed=revealed,
        value=personal_tokens.reveal(token, actor=current_user) if revealed else None,
        scope_label=scopes.labels(token.scope, company.teams),
        status=personal_tokens.status(token),
        status_labels=personal_tokens.STATUS_LABELS,
        form=ConfirmForm(),
    )


@bp.post("/plugins-api/api/tokens/<token_id>/revoke")
def revoke_token(token_id: str) -> Response:
    confirmed()
    token = personal_tokens.get_personal_token(current_user.company, path_id(token_id, "token"))
    return revoke_access(token, token.name, nothing_left=f"“{token.name}” was already revoked.")


def revoke_access(row: PersonalToken | OAuthGrant, name: str, *, nothing_left: str) -> Response:
    """Either "Revoke access" button (a personal token, an app's grant): the revocation
    service, one commit, then back to the list that shows both."""
    revoked = revocation.revoke(row, actor=current_user, via=revocation.Via.SETTINGS)
    db.session.commit()
    flash(f"Access revoked for “{name}”." if revoked else nothing_left, "info")
    return redirect(url_for("settings.api_tokens"))
