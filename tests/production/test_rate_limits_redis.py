"""Rate limits on Redis (REDIS_URL), seen by every process: two gunicorn servers on one
database and one Redis spend one budget. Redis must run under CI; on a developer's
machine without it these tests are skipped (except the fallback, which needs no Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import csrf_from
from tests.production.conftest import TRACEBACK
from tests.production.conftest import RedisSpace
from tests.production.conftest import Server
from tests.production.conftest import base_env
from tests.production.conftest import free_port
from tests.production.conftest import me
from tests.production.conftest import seed
from tests.production.conftest import servers

LIMITS = {
    "RATELIMIT_API": "3 per minute",
    "RATELIMIT_API_COMPANY": "4 per minute",
    "RATELIMIT_TOKEN": "2 per minute",
    "RATELIMIT_LOGIN_ACCOUNT": "2 per minute",
}


@dataclass
class Pair:
    a: Server
    b: Server
    data: dict[str, Any]


@pytest.fixture(scope="module")
def pair(redis_space: RedisSpace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("redis-pair")
    env = base_env(
        folder,
        f"sqlite:///{folder / 'server.db'}",
        REDIS_URL=redis_space.url,
        RATELIMIT_KEY_PREFIX=redis_space.prefix,
        **LIMITS,
    )
    data = seed(env)
    with servers(2, env, folder) as (a, b):
        yield Pair(a, b, data)
    for server in (a, b):
        assert not TRACEBACK.search(server.log_text()), server.log_text()


def assert_limited(response: requests.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"


def test_a_tokens_budget_is_one_across_processes(pair: Pair) -> None:
    token = pair.data["personal"][0]

    answers = [me(server.url, token) for server in (pair.a, pair.b, pair.a)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]

    refused = me(pair.b.url, token)
    assert_limited(refused, 3)
    assert refused.json()["_error"]["status"] == 429


def test_a_companys_budget_is_one_across_processes(pair: Pair) -> None:
    first, second = pair.data["other_personal"]
    for server, token in ((pair.a, first), (pair.b, second), (pair.b, first), (pair.a, second)):
        assert me(server.url, token).status_code == 200

    # Each token is under its own 3, the company is at its 4.
    assert_limited(me(pair.b.url, first), 4)
    assert_limited(me(pair.a.url, second), 4)


def test_a_clients_budget_at_the_token_endpoint_is_one_across_processes(pair: Pair) -> None:
    client = pair.data["client"]

    def bad_refresh(server: Server) -> requests.Response:
        return requests.post(
            server.url + "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": "wsp_ort_unknown"},
            auth=(client["client_id"], client["client_secret"]),
            timeout=10,
        )

    assert bad_refresh(pair.a).status_code == 400
    assert bad_refresh(pair.b).status_code == 400
    refused = bad_refresh(pair.a)
    assert_limited(refused, 2)
    assert refused.json()["error"] == "invalid_request"


def test_counters_live_under_the_deployments_key_prefix(
    pair: Pair, redis_space: RedisSpace
) -> None:
    assert me(pair.a.url, pair.data["personal"][1]).status_code == 200

    keys = redis_space.keys()
    assert keys
    assert all(f"/{redis_space.prefix}/" in key for key in keys), keys
    # Ids name the budgets, never a token string.
    assert not any("wsp_" in key and "wsp_app_" not in key for key in keys), keys


def test_a_limited_sign_in_leaves_no_email_address_in_logs_or_redis(
    pair: Pair, redis_space: RedisSpace
) -> None:
    email = pair.data["admin"]["email"]

    def wrong_password(server: Server) -> requests.Response:
        session = requests.Session()
        page = session.get(server.url + "/login", timeout=10)
        return session.post(
            server.url + "/login",
            data={"email": email, "password": "not a password", "csrf_token": csrf_from(page.text)},
            allow_redirects=False,
            timeout=10,
        )

    assert [wrong_password(s).status_code for s in (pair.a, pair.b)] == [401, 401]
    assert wrong_password(pair.a).status_code == 429

    keys = redis_space.keys()
    assert any("login-account:" in key for key in keys), keys
    assert not any(email in key.lower() for key in keys), keys
    for server in (pair.a, pair.b):
        assert email not in server.log_text().lower()


def test_without_redis_the_server_keeps_serving(tmp_path: Path) -> None:
    """Redis down: each process counts in memory until it is back; no request fails."""
    env = base_env(
        tmp_path,
        f"sqlite:///{tmp_path / 'server.db'}",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        RATELIMIT_API="2 per minute",
    )
    server = Server(env, tmp_path / "server.log").start(wait=False)
    try:
        token = seed(env)["personal"][0]
        server.wait_ready()
        assert [me(server.url, token).status_code for _ in range(3)] == [200, 200, 429]
    finally:
        server.stop()
    assert not TRACEBACK.search(server.log_text()), server.log_text()
    messages = [line["message"] for line in server.json_lines()]
    assert any("falling back to in-memory storage" in message for message in messages)
