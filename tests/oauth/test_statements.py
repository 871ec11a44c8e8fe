"""What one request costs the database at the token and revocation endpoints.

A claim is one conditional UPDATE that returns what the rest of the exchange needs, the
new rows are plain inserts, and revocation stamps the row it read: nothing is read twice.
Statements are counted as bench/sqlcount.py counts them (BEGIN and COMMIT are not).
"""

from __future__ import annotations

import re

from tests.conftest import sql_sent
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import issue
from tests.flows import refresh
from tests.isolation import isolated_client
from tests.oauth.test_revocation import revoke

_SHAPE = re.compile(
    r"^(SELECT|UPDATE|INSERT INTO)\b.*?\b(oauth_\w+|audit_events|companies|teammates)\b"
)


def _shape(statement: str) -> str:
    """``SELECT oauth_clients``, ``UPDATE oauth_tokens``: verb and first table."""
    text = " ".join(statement.split())
    match = _SHAPE.match(text)
    return f"{match.group(1).split()[0]} {match.group(2)}" if match else text[:60]


def shapes(sent: list[tuple[str, object]]) -> list[str]:
    return [_shape(statement) for statement, _ in sent]


def test_a_first_code_exchange_is_a_claim_a_look_and_three_writes(app, client, workspace, partner):
    code, verifier = get_code(client, partner, workspace.admin.email)
    partner_client = isolated_client(app)  # the partner's server: no teammate session

    with sql_sent() as seen:
        response = exchange(partner_client, partner, code, verifier)

    assert response.status_code == 200, response.get_json()
    assert shapes(seen) == [
        "SELECT oauth_clients",
        "UPDATE oauth_authorization_codes",  # the claim, RETURNING the code
        "SELECT oauth_grants",  # the teammate's grant for the app: none yet
        "INSERT oauth_grants",
        "INSERT audit_events",  # the security log's grant.created, in the same transaction
        "UPDATE oauth_authorization_codes",  # the code points at its grant
        "INSERT oauth_tokens",
    ], seen


def test_a_later_code_exchange_joins_the_grant_with_one_look(app, client, workspace, partner):
    """Every authorization after the first (a new sign-in of the app) joins the grant."""
    issue(client, partner, workspace.admin.email)
    code, verifier = get_code(client, partner, None)  # signed in already
    partner_client = isolated_client(app)

    with sql_sent() as seen:
        response = exchange(partner_client, partner, code, verifier)

    assert response.status_code == 200, response.get_json()
    assert shapes(seen) == [
        "SELECT oauth_clients",
        "UPDATE oauth_authorization_codes",
        "SELECT oauth_grants",  # the grant to join, locked
        "UPDATE oauth_authorization_codes",
        "INSERT oauth_tokens",
    ], seen


def test_a_refresh_is_a_claim_and_one_insert(app, client, workspace, partner):
    token = issue(client, partner, workspace.admin.email)
    partner_client = isolated_client(app)

    with sql_sent() as seen:
        response = refresh(partner_client, partner, token["refresh_token"])

    assert response.status_code == 200, response.get_json()
    assert shapes(seen) == [
        "SELECT oauth_clients",
        "UPDATE oauth_tokens",  # the claim, RETURNING the pair
        "INSERT oauth_tokens",
    ], seen


def test_only_a_refresh_asking_for_a_scope_reads_before_its_claim(app, client, workspace, partner):
    token = issue(client, partner, workspace.admin.email, "shared private")
    partner_client = isolated_client(app)

    with sql_sent() as seen:
        response = refresh(partner_client, partner, token["refresh_token"], scope="private")

    assert response.status_code == 200, response.get_json()
    assert shapes(seen) == [
        "SELECT oauth_clients",
        "SELECT oauth_tokens",  # the scope check, before anything is spent
        "SELECT companies",
        "UPDATE oauth_tokens",
        "INSERT oauth_tokens",
    ], seen


def test_revoking_an_access_token_is_one_update(app, client, workspace, partner):
    token = issue(client, partner, workspace.admin.email)
    partner_client = isolated_client(app)

    with sql_sent() as seen:
        response = revoke(partner_client, partner, token["access_token"])

    assert response.status_code == 200, response.get_data(as_text=True)
    assert shapes(seen) == ["SELECT oauth_clients", "UPDATE oauth_tokens"], seen

    # Revoked already: the UPDATE stamps nothing, and the token is read as any other.
    with sql_sent() as seen:
        response = revoke(partner_client, partner, token["access_token"])

    assert response.status_code == 200, response.get_data(as_text=True)
    assert shapes(seen) == [
        "SELECT oauth_clients",
        "UPDATE oauth_tokens",
        "SELECT oauth_tokens",
        "UPDATE oauth_tokens",
    ], seen
