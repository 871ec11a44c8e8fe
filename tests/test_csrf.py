"""Every route that changes something from a browser needs the form's CSRF token.

The routes are read from the app's URL map, so a new form is checked the day it is added.
The exemptions are listed here by hand: a new one must be added here knowingly.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from oauth_server.extensions import db
from tests.conftest import login
from tests.factories import make_grant
from tests.factories import make_personal_token
from tests.factories import register
from tests.isolation import isolated_client

WRITES = {"POST", "PUT", "PATCH", "DELETE"}

# Blueprints and endpoints exempt by design (oauth_server/factory.py, oauth/views.py): they
# take bearer tokens or client credentials, never a browser session.
EXEMPT_BLUEPRINTS = {
    "api",  # bearer tokens
    "scim",  # bearer tokens
    "security",  # leaked token reports: GitHub's signed JSON, or anyone's, no session
}
EXEMPT_ENDPOINTS = {
    "oauth.token",  # RFC 6749: the client authenticates itself
    "oauth.revoke",  # RFC 7009
    "oauth.introspect",  # RFC 7662
    "oauth.wrong_method",  # the 405 of the three above
}


def form_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) of every write route that is not exempt."""
    return sorted(
        (method, rule.rule, rule.endpoint)
        for rule in app.url_map.iter_rules()
        for method in WRITES & set(rule.methods or ())
        if rule.endpoint not in EXEMPT_ENDPOINTS
        and rule.endpoint.partition(".")[0] not in EXEMPT_BLUEPRINTS
    )


def stored() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, by table."""
    db.session.rollback()
    db.session.expire_all()
    return {
        table.name: sorted((tuple(row) for row in db.session.execute(table.select())), key=repr)
        for table in db.metadata.sorted_tables
    }


def test_the_exemptions_name_routes_that_exist(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert EXEMPT_ENDPOINTS <= endpoints
    assert EXEMPT_BLUEPRINTS <= set(app.blueprints)


def test_every_form_route_refuses_a_post_without_the_csrf_token(app, company_under_test):
    company, admin = company_under_test.company, company_under_test.admin
    mate = company_under_test.teammates[0]
    partner = register()
    own_app = register(name="Own", owner_company=company)
    grant = make_grant(company, partner, mate)
    token, _ = make_personal_token(company, actor=admin)
    ids = {"token_id": token.id, "grant_id": grant.id, "client_pk": own_app.row.id}
    ids["teammate_id"] = mate.id
    browser = isolated_client(app)
    login(browser, admin.email)
    # What a form could carry, so that an unprotected route would act on it.
    data = {
        "name": "Forged",
        "scope": "shared",
        "expires_in_days": "",
        "redirect_uris": "https://partner.example/cb",
        "client_type": "confidential",
        "allowed": "true",
        "admin": "true",
        "decision": "allow",
        "email": admin.email,
        "password": "wombat-42-pass",
        "current_password": "wombat-42-pass",
        "new_password": "a new password 123",
        "confirm": "a new password 123",
    }
    routes = form_routes(app)
    assert ("POST", "/settings/plugins-api/api/tokens/new", "settings.new_token") in routes
    before = stored()

    unprotected: list[tuple[str, str, int]] = []
    for method, rule, _ in routes:
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids.get(m[1], 1)), rule)
        response = browser.open(url, method=method, data=data)
        html = response.get_data(as_text=True)
        if response.status_code != 400 or "Form expired" not in html:
            unprotected.append((method, url, response.status_code))

    assert unprotected == []
    assert stored() == before
