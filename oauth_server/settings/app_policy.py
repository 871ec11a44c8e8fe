"""Company settings > Plugins & API > API > Apps with Access, managed: the "Third-party
apps" policy, trusted domains, approval requests, blocked apps, "Revoke all third-party
access", and the list of grants filtered by app, teammate and last use.

Admins only (the settings blueprint's rule); every change is a POST with its CSRF token.
The rules are in services/app_policy.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from oauth_server import ids
from oauth_server import scopes
from oauth_server.auth import sudo
from oauth_server.errors import ValidationFailed
from oauth_server.models.base import utcnow
from oauth_server.services import app_policy
from oauth_server.services import grants
from oauth_server.services import teammates
from oauth_server.settings.blueprints import bp
from oauth_server.settings.blueprints import confirmed
from oauth_server.settings.blueprints import cursor
from oauth_server.settings.blueprints import path_id
from oauth_server.settings.forms import ConfirmForm
from oauth_server.settings.forms import PolicyForm
from oauth_server.settings.forms import TrustedDomainsForm

PAGE = "settings.apps_with_access"
LAST_USE = {"": "Any time", "30": "Not used in 30 days", "90": "Not used in 90 days"}
LAST_USE_NEVER = "never"
LAST_USE_LABELS = {**LAST_USE, LAST_USE_NEVER: "Never used"}


def _filter_id(name: str, what: str) -> int | None:
    raw = request.args.get(name, "")
    if raw == "":
        return None
    number = ids.whole_number(raw)
    if number is None or number < 1 or not ids.is_id(number):
        abort(400, f"A {what} id is a positive whole number.")
    return number


def _filter() -> grants.GrantFilter:
    """The filter in the query string, or 400 naming the bad part."""
    last_use = request.args.get("last_use", "")
    if last_use not in LAST_USE_LABELS:
        abort(400, "Last use is one of: " + ", ".join(LAST_USE_LABELS.values()) + ".")
    days = int(last_use) if last_use.isdigit() else None
    return grants.GrantFilter(
        client_pk=_filter_id("app", "app"),
        teammate_id=_filter_id("teammate", "teammate"),
        unused_since=utcnow() - timedelta(days=days) if days else None,
        never_used=last_use == LAST_USE_NEVER,
    )


def _page(policy_form: PolicyForm, domains_form: TrustedDomainsForm, status: int = 200) -> Any:
    company = current_user.company
    where = _filter()
    rows, next_cursor = grants.list_live_grants(
        company,
        before_id=cursor("apps_before"),
        limit=current_app.config["TOKEN_LIST_PAGE_SIZE"],
        where=where,
    )
    filters = {k: request.args[k] for k in ("app", "teammate", "last_use") if request.args.get(k)}
    pending, answered = app_policy.approvals(company)
    page = render_template(
        "settings/app_policy.html",
        policy=app_policy.policy_of(company.id),
        policy_form=policy_form,
        domains_form=domains_form,
        form=ConfirmForm(),
        pending=pending,
        answered=answered,
        blocked=app_policy.blocked_apps(company),
        grants=rows,
        grants_next=next_cursor,
        filters=filters,
        filter_apps=grants.apps_with_live_grants(company),
        filter_teammates=teammates.listed(company),
        last_use_labels=LAST_USE_LABELS,
        label=lambda scope: scopes.label(scope, company.teams),
    )
    return page, status


def _forms() -> tuple[PolicyForm, TrustedDomainsForm]:
    policy = app_policy.policy_of(current_user.company_id)
    policy_form = PolicyForm(formdata=None, third_party_apps=policy.third_party_apps.value)
    domains_form = TrustedDomainsForm(
        formdata=None, trusted_domains="\n".join(policy.trusted_domains)
    )
    return policy_form, domains_form


@bp.get("/plugins-api/api/apps")
def apps_with_access() -> Any:
    return _page(*_forms())


@bp.post("/plugins-api/api/apps/policy")
@sudo.required
def set_app_policy() -> Any:
    form = PolicyForm()
    if not form.validate_on_submit():
        confirmed()  # an expired form: 400 asking to reload
    try:
        policy = app_policy.set_third_party_apps(
            current_user.company, form.third_party_apps.data or "", actor=current_user
        )
    except ValidationFailed as problem:
        form.third_party_apps.errors = [problem.message]
        return _page(form, _forms()[1], 400)
    flash(f"Third-party apps: {policy.label}.", "info")
    return redirect(url_for(PAGE))


@bp.post("/plugins-api/api/apps/trusted-domains")
@sudo.required
def set_trusted_domains() -> Any:
    form = TrustedDomainsForm()
    if not form.validate_on_submit():
        confirmed()
    try:
        policy = app_policy.set_trusted_domains(
            current_user.company, form.trusted_domains.data or "", actor=current_user
        )
    except ValidationFailed as problem:
        form.trusted_domains.errors = [problem.message]
        return _page(_forms()[0], form, 400)
    count = len(policy.trusted_domains)
    flash(
        f"Trusted domains saved ({count})." if count else "Trusted domains cleared: any host.",
        "info",
    )
    return redirect(url_for(PAGE))


@bp.post("/plugins-api/api/apps/requests/<approval_id>/<answer>")
def answer_request(approval_id: str, answer: str) -> Response:
    if answer not in ("approve", "decline"):
        abort(404)
    confirmed()
    row = app_policy.answer_request(
        current_user.company,
        path_id(approval_id, "request"),
        approve=answer == "approve",
        actor=current_user,
    )
    verb = "approved" if answer == "approve" else "declined"
    flash(f"“{row.client.name}” {verb}.", "info")
    return redirect(url_for(PAGE))


@bp.post("/plugins-api/api/apps/blocked/<client_pk>")
def block_app(client_pk: str) -> Response:
    confirmed()
    client, revoked = app_policy.block_app(
        current_user.company, path_id(client_pk, "app"), actor=current_user
    )
    flash(f"“{client.name}” blocked; {revoked} grant(s) revoked.", "info")
    return redirect(url_for(PAGE))


@bp.post("/plugins-api/api/apps/blocked/<client_pk>/unblock")
def unblock_app(client_pk: str) -> Response:
    confirmed()
    client = app_policy.unblock_app(
        current_user.company, path_id(client_pk, "app"), actor=current_user
    )
    flash(f"“{client.name}” unblocked.", "info")
    return redirect(url_for(PAGE))


@bp.post("/plugins-api/api/apps/revoke-all")
def revoke_all_partner_access() -> Response:
    confirmed()
    revoked = app_policy.revoke_all_partner_access(current_user.company, actor=current_user)
    flash(f"Third-party access revoked: {revoked} grant(s). Personal tokens keep working.", "info")
    return redirect(url_for(PAGE))
