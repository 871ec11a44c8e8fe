"""Races on the token and revocation endpoints across two server processes on one
PostgreSQL database: one refresh token or one code presented by 8 clients at once, and
revocation racing a refresh. Whatever the interleaving, there is at most one winner, every
other answer is ``invalid_grant``, the grant ends revoked, and never a 5xx (a deadlock
between two transactions is not an outage).

Runs when TEST_DATABASE_URL names a PostgreSQL server (the PostgreSQL pass of CI).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from functools import partial
from typing import Any

import pytest
import requests

from tests.conftest import postgres_database_url
from tests.production.conftest import TRACEBACK
from tests.production.conftest import authorization_code
from tests.production.conftest import base_env
from tests.production.conftest import exchange
from tests.production.conftest import me
from tests.production.conftest import refresh
from tests.production.conftest import seed
from tests.production.conftest import servers
from tests.production.conftest import sign_in

pytestmark = pytest.mark.postgres

ROUNDS = 20
CLIENTS = 8


@dataclass
class Deployment:
    urls: list[str]
    data: dict[str, Any]
    browser: requests.Session
    secrets: list[str] = field(default_factory=list)

    def tokens(self) -> dict[str, Any]:
        """A fresh grant: consent in the signed-in browser, then the code exchange."""
        code, verifier = authorization_code(
            self.browser, self.urls[0], self.data["client"]["client_id"]
        )
        answer = exchange(self.urls[1], self.data["client"], code, verifier)
        assert answer.status_code == 200, answer.text
        issued: dict[str, Any] = answer.json()
        self.secrets += [issued["access_token"], issued["refresh_token"], code]
        return issued

    def winners(self, answers: list[requests.Response]) -> list[dict[str, Any]]:
        """The token responses of the 200s; every other answer must be 400 invalid_grant."""
        for answer in answers:
            assert answer.status_code in (200, 400), (answer.status_code, answer.text[:300])
            if answer.status_code == 400:
                assert answer.json()["error"] == "invalid_grant", answer.text
        won = [answer.json() for answer in answers if answer.status_code == 200]
        self.secrets += [pair[key] for pair in won for key in ("access_token", "refresh_token")]
        return won


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("races")
    with contextlib.contextmanager(postgres_database_url)(
        os.environ["TEST_DATABASE_URL"]
    ) as database_url:
        # Budgets high enough for the rounds: the limits are not what is under test.
        env = base_env(
            folder,
            database_url,
            RATELIMIT_TOKEN="10000 per minute",
            RATELIMIT_TOKEN_COMPANY="10000 per minute",
            RATELIMIT_API="10000 per minute",
        )
        data = seed(env)
        with servers(2, env, folder) as running:
            browser = requests.Session()
            urls = [server.url for server in running]
            sign_in(browser, urls[0], data["admin"]["email"], data["admin"]["password"])
            deployment = Deployment(urls, data, browser)
            yield deployment
        for server in running:
            text = server.log_text()
            assert "Deadlock" not in text
            assert not TRACEBACK.search(text), text[-3000:]
            for secret in deployment.secrets:
                assert secret not in text


def race(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Send ``calls`` at once, each from a thread of its own; their answers."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            answers[index] = calls[index]()
        except Exception as error:  # reported below, not lost in the thread
            answers[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for answer in answers:
        if not isinstance(answer, requests.Response):
            raise AssertionError(f"a request failed: {answer!r}")
    return answers


def assert_grant_revoked(deployment: Deployment, issued: list[dict[str, Any]]) -> None:
    """Every token of the grant is refused, through either process."""
    client = deployment.data["client"]
    for pair in issued:
        for url in deployment.urls:
            assert me(url, pair["access_token"]).status_code == 401
        answer = refresh(deployment.urls[0], client, pair["refresh_token"])
        assert answer.status_code == 400, answer.text


def test_one_refresh_token_sent_by_eight_clients_over_two_processes(
    deployment: Deployment,
) -> None:
    client = deployment.data["client"]
    for _ in range(ROUNDS):
        issued = deployment.tokens()
        answers = race(
            [
                partial(refresh, url, client, issued["refresh_token"])
                for url in deployment.urls * (CLIENTS // 2)
            ]
        )
        won = deployment.winners(answers)
        assert len(won) <= 1
        # The others presented a spent refresh token: reuse, so the grant is revoked.
        assert_grant_revoked(deployment, [issued, *won])


def test_one_code_redeemed_by_eight_clients_over_two_processes(deployment: Deployment) -> None:
    client = deployment.data["client"]
    for _ in range(ROUNDS):
        code, verifier = authorization_code(
            deployment.browser, deployment.urls[0], client["client_id"]
        )
        deployment.secrets.append(code)
        answers = race(
            [
                partial(exchange, url, client, code, verifier)
                for url in deployment.urls * (CLIENTS // 2)
            ]
        )
        won = deployment.winners(answers)
        assert len(won) == 1  # the first redemption of a valid code succeeds
        # A replay of the code revokes what it issued.
        assert_grant_revoked(deployment, won)


def revoke(url: str, client: dict[str, str], refresh_token: str) -> requests.Response:
    return requests.post(
        url + "/oauth/revoke",
        data={"token": refresh_token, "token_type_hint": "refresh_token"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=30,
    )


def test_revocation_racing_refreshes_over_two_processes(deployment: Deployment) -> None:
    client = deployment.data["client"]
    for _ in range(ROUNDS):
        issued = deployment.tokens()
        calls: list[Callable[[], requests.Response]] = []
        for url in deployment.urls * (CLIENTS // 4):
            calls.append(partial(refresh, url, client, issued["refresh_token"]))
            calls.append(partial(revoke, url, client, issued["refresh_token"]))
        answers = race(calls)
        refreshes, revocations = answers[0::2], answers[1::2]
        for answer in revocations:
            assert answer.status_code == 200, answer.text[:300]
        won = deployment.winners(refreshes)
        assert len(won) <= 1
        # Revoking the refresh token revokes its grant, the pair a racing refresh got too.
        assert_grant_revoked(deployment, [issued, *won])
