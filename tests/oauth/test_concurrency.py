"""Races on the token endpoint, with real threads against the live server.

Each request runs in a server thread of its own, with its own app context and database
session, as in production; a ``threading.Barrier`` lines the requests up. Several rounds
each, on SQLite as on PostgreSQL (``TEST_DATABASE_URL``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.services import revocation
from tests.factories import REDIRECT_URI
from tests.flows import get_code
from tests.flows import issue
from tests.isolation import rows

ROUNDS = 4


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` at once, each in a thread of its own; their results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait(timeout=10)
        try:
            results[index] = call()
        except Exception as error:  # reported by the test, not lost in the thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


def token_call(live_server, partner, data: dict[str, str]) -> Callable[[], requests.Response]:
    def call() -> requests.Response:
        return requests.post(
            live_server.url + "/oauth/token",
            data=data,
            auth=(partner.client_id, partner.client_secret),
            timeout=30,
        )

    return call


def me(live_server, access_token: str) -> int:
    response = requests.get(
        live_server.url + "/api/v1/me",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=30,
    )
    return response.status_code


def split(responses: list[requests.Response]) -> tuple[list[Any], list[Any]]:
    won = [r.json() for r in responses if r.status_code == 200]
    lost = [r for r in responses if r.status_code != 200]
    for response in lost:
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant"
    return won, lost


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_simultaneous_redemptions_of_one_code_give_one_success(
    client, live_server, workspace, partner, round_
):
    code, verifier = get_code(client, partner, workspace.admin.email)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }

    won, lost = split(
        race(token_call(live_server, partner, data), token_call(live_server, partner, data))
    )

    assert len(won) == 1 and len(lost) == 1
    assert len(rows(OAuthGrant)) == 1 and len(rows(OAuthToken)) == 1
    # The loser presented a spent code: a replay, so what the code issued is revoked.
    assert rows(OAuthGrant)[0].revoked_at is not None
    assert me(live_server, won[0]["access_token"]) == 401


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_simultaneous_refreshes_give_one_success_and_count_as_reuse(
    client, live_server, workspace, partner, round_
):
    token = issue(client, partner, workspace.admin.email)
    data = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}

    won, lost = split(
        race(token_call(live_server, partner, data), token_call(live_server, partner, data))
    )

    assert len(won) == 1 and len(lost) == 1
    [grant] = rows(OAuthGrant)
    assert grant.revoked_at is not None and grant.revoked_via == "refresh_reuse"
    for access in (token["access_token"], won[0]["access_token"]):
        assert me(live_server, access) == 401
    refused = token_call(
        live_server,
        partner,
        {"grant_type": "refresh_token", "refresh_token": won[0]["refresh_token"]},
    )()
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def _revoke_by_rfc7009(live_server, partner, token):
    def call() -> requests.Response:
        return requests.post(
            live_server.url + "/oauth/revoke",
            data={"token": token["refresh_token"], "token_type_hint": "refresh_token"},
            auth=(partner.client_id, partner.client_secret),
            timeout=30,
        )

    return call


def _revoke_in_settings(app, grant_id, actor_id):
    def call() -> bool:
        from oauth_server.extensions import db
        from oauth_server.models import Teammate

        with app.app_context():
            grant = db.session.get(OAuthGrant, grant_id)
            revoked = revocation.revoke(
                grant, actor=db.session.get(Teammate, actor_id), via="settings"
            )
            db.session.commit()
            return revoked

    return call


@pytest.mark.parametrize("door", ["rfc7009", "settings"])
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_refresh_racing_a_revocation_never_leaves_a_live_token(
    client, app, live_server, workspace, partner, door, round_
):
    token = issue(client, partner, workspace.admin.email)
    [grant] = rows(OAuthGrant)
    refresh_call = token_call(
        live_server,
        partner,
        {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
    )
    if door == "rfc7009":
        revoke_call = _revoke_by_rfc7009(live_server, partner, token)
    else:
        revoke_call = _revoke_in_settings(app, grant.id, workspace.admin.id)

    refreshed, revoked = race(refresh_call, revoke_call)

    if door == "rfc7009":
        assert revoked.status_code == 200, revoked.text
    assert refreshed.status_code in (200, 400), refreshed.text
    issued = [token]
    if refreshed.status_code == 200:
        issued.append(refreshed.json())
        again = token_call(
            live_server,
            partner,
            {"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]},
        )()
        assert again.status_code == 400
    else:
        assert refreshed.json()["error"] == "invalid_grant"
    for pair in issued:
        assert me(live_server, pair["access_token"]) == 401
    assert rows(OAuthGrant)[0].revoked_at is not None
