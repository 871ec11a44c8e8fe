"""No state in a worker that another worker must see: two gunicorn servers on one
PostgreSQL database; what one process revokes, the other refuses on its very next request.

Runs when TEST_DATABASE_URL names a PostgreSQL server (CI's PostgreSQL pass, `make
test-postgres`); the SQLite pass leaves it out (marker `postgres`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.conftest import csrf_from
from tests.conftest import postgres_database_url
from tests.production.conftest import TRACEBACK
from tests.production.conftest import Server
from tests.production.conftest import base_env
from tests.production.conftest import me
from tests.production.conftest import partner_tokens
from tests.production.conftest import refresh
from tests.production.conftest import seed
from tests.production.conftest import servers
from tests.production.conftest import sign_in

pytestmark = pytest.mark.postgres
GRANT_LINK = re.compile(r"/settings/plugins-api/api/apps/(\d+)")


@dataclass
class Deployment:
    a: Server
    b: Server
    data: dict[str, Any]
    secrets: list[str]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("two-processes")
    server_url = os.environ["TEST_DATABASE_URL"]
    with contextlib.contextmanager(postgres_database_url)(server_url) as database_url:
        env = base_env(folder, database_url)
        data = seed(env)
        with servers(2, env, folder) as (a, b):
            secrets = [
                *data["personal"],
                data["client"]["client_secret"],
                data["admin"]["password"],
                env["SECRET_KEY"],
            ]
            yield Deployment(a, b, data, secrets)
        # Whatever went through them, neither process logged a secret or a traceback.
        for server in (a, b):
            text = server.log_text()
            assert not TRACEBACK.search(text), text
            for secret in secrets:
                assert secret not in text


def test_a_personal_token_revoked_through_one_process_is_refused_by_the_other(
    deployment: Deployment,
) -> None:
    a, b, token = deployment.a, deployment.b, deployment.data["personal"][0]
    assert me(b.url, token).status_code == 200  # B has seen it alive

    revoked = requests.post(
        a.url + "/oauth/revoke",
        data={"token": token},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert revoked.status_code == 200

    assert me(b.url, token).status_code == 401
    assert me(a.url, token).status_code == 401


def test_revoke_access_in_settings_of_one_process_is_seen_by_the_other(
    deployment: Deployment,
) -> None:
    """The session and the form come from A, the revocation is posted to B: sessions and
    CSRF tokens are signed, not stored in a process."""
    a, b = deployment.a, deployment.b
    token, token_id = deployment.data["personal"][1], deployment.data["personal_ids"][1]
    assert me(a.url, token).status_code == 200
    browser = requests.Session()
    sign_in(browser, a.url, deployment.data["admin"]["email"], deployment.data["admin"]["password"])
    page = browser.get(f"{a.url}/settings/plugins-api/api/tokens/{token_id}", timeout=10)
    assert page.status_code == 200

    revoked = browser.post(
        f"{b.url}/settings/plugins-api/api/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_from(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert revoked.status_code == 302, revoked.text[:300]

    assert me(a.url, token).status_code == 401
    assert me(b.url, token).status_code == 401


def test_a_partner_grant_revoked_in_settings_is_refused_by_the_other_process(
    deployment: Deployment,
) -> None:
    a, b, data = deployment.a, deployment.b, deployment.data
    issued = partner_tokens(a.url, data)
    deployment.secrets += [issued[key] for key in ("access_token", "refresh_token", "code")]
    assert me(b.url, issued["access_token"]).status_code == 200
    browser = requests.Session()
    sign_in(browser, a.url, data["admin"]["email"], data["admin"]["password"])
    listing = browser.get(a.url + "/settings/plugins-api/api", timeout=10).text
    grant_id = GRANT_LINK.search(listing).group(1)  # type: ignore[union-attr]
    page = browser.get(f"{a.url}/settings/plugins-api/api/apps/{grant_id}", timeout=10)

    revoked = browser.post(
        f"{a.url}/settings/plugins-api/api/apps/{grant_id}/revoke",
        data={"csrf_token": csrf_from(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert revoked.status_code == 302, revoked.text[:300]

    assert me(b.url, issued["access_token"]).status_code == 401
    refused = refresh(b.url, data["client"], issued["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


def test_a_partner_grant_revoked_at_the_revocation_endpoint_is_refused_by_the_other(
    deployment: Deployment,
) -> None:
    a, b, data = deployment.a, deployment.b, deployment.data
    issued = partner_tokens(b.url, data)
    deployment.secrets += [issued[key] for key in ("access_token", "refresh_token", "code")]
    # The pair rotates on A; B then serves the new access token.
    renewed = refresh(a.url, data["client"], issued["refresh_token"]).json()
    deployment.secrets += [renewed["access_token"], renewed["refresh_token"]]
    assert me(b.url, renewed["access_token"]).status_code == 200

    revoked = requests.post(
        a.url + "/oauth/revoke",
        data={"token": renewed["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(data["client"]["client_id"], data["client"]["client_secret"]),
        timeout=10,
    )
    assert revoked.status_code == 200

    for token in (issued["access_token"], renewed["access_token"]):
        assert me(b.url, token).status_code == 401
    assert refresh(b.url, data["client"], renewed["refresh_token"]).status_code == 400
