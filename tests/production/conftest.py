"""The production shape, tested with real processes: gunicorn with the package's settings,
Redis for rate limits, PostgreSQL (the CI server, or one a test starts itself).

Availability rules, as for the browser tests: a missing Redis or PostgreSQL skips a test
on a developer's machine, and fails it under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.fernet import Fernet

from tests.conftest import csrf_from
from tests.processes import Process
from tests.processes import clean_env
from tests.processes import free_port
from tests.processes import redis_server_url

BIN = Path(sys.executable).parent
REDIRECT_URI = "http://127.0.0.1:8765/callback"


def base_env(instance: Path, database_url: str, **settings: str) -> dict[str, str]:
    """A server's environment: ours, not the developer's shell's."""
    env = clean_env()
    env.update(
        {
            "DATABASE_URL": database_url,
            "OAUTH_SERVER_INSTANCE": str(instance),
            # Shared by every process of a deployment: sessions and CSRF tokens signed by
            # one process are accepted by the others, stored tokens readable by all.
            "SECRET_KEY": "production-test-secret-" + uuid.uuid4().hex,
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "RATELIMIT_LOGIN": "1000 per minute",
            "RATELIMIT_LOGIN_ACCOUNT": "1000 per minute",
            **settings,
        }
    )
    return env


PASSWORD = "a production test password"


def seed(env: dict[str, str]) -> dict[str, Any]:
    """Migrate the database of ``env`` (as ``oauth-server db upgrade`` does), then create a
    workspace, personal tokens and a confidential partner app; return what was made.

    In this process, with the server's keys: a process of its own would cost seconds of
    start-up, twice as much as the rest of a test.
    """
    from oauth_server import create_app
    from oauth_server.extensions import db
    from oauth_server.schema import upgrade
    from oauth_server.services import clients
    from tests.factories import make_admin
    from tests.factories import make_company
    from tests.factories import make_personal_token

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
            "SECRET_KEY": env["SECRET_KEY"],
            "TOKEN_ENCRYPTION_KEY": env["TOKEN_ENCRYPTION_KEY"],
            "PASSWORD_ARGON2": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
        }
    )
    with app.app_context():
        upgrade()
        company = make_company("Prodco", plan="scale", teams_feature=True)
        admin = make_admin(company, email="admin@prodco.test", password=PASSWORD)
        other = make_company("Otherco")
        client, secret = clients.register_client(name="Prod App", redirect_uris=[REDIRECT_URI])
        data: dict[str, Any] = {
            "company_id": company.id,
            "other_company_id": other.id,
            "admin": {"email": admin.email, "password": PASSWORD},
            "personal": [],
            "personal_ids": [],
            "other_personal": [make_personal_token(other)[1] for _ in range(2)],
            "client": {"client_id": client.client_id, "client_secret": secret},
        }
        for _ in range(3):
            row, value = make_personal_token(company, actor=admin)
            data["personal"].append(value)
            data["personal_ids"].append(row.id)
        db.session.remove()
        db.engine.dispose()
    return data


def Server(env: dict[str, str], log: Path) -> Process:  # noqa: N802  (reads like a class)
    """The server under gunicorn with the package's settings, as in docker-compose.yml."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **env,
        "OAUTH_ISSUER": env.get("OAUTH_ISSUER", url),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": env.get("GUNICORN_WORKERS", "1"),
        "GUNICORN_THREADS": env.get("GUNICORN_THREADS", "4"),
    }
    args = [
        str(BIN / "gunicorn"),
        "--config",
        "python:oauth_server.gunicorn_conf",
        "oauth_server:create_app()",
    ]
    return Process(name="gunicorn", args=args, env=env, url=url, log=log)


@contextlib.contextmanager
def servers(count: int, env: dict[str, str], folder: Path) -> Iterator[list[Process]]:
    """``count`` gunicorn servers on one database, started together, stopped after."""
    running = [Server(env, folder / f"server-{i}.log") for i in range(count)]
    try:
        for server in running:
            server.start(wait=False)
        for server in running:
            server.wait_ready()
        yield running
    finally:
        for server in running:
            server.stop()


# --- services -------------------------------------------------------------------------------


@dataclass
class RedisSpace:
    """A Redis database and a key prefix (RATELIMIT_KEY_PREFIX) of one test's own."""

    url: str
    prefix: str

    def keys(self) -> list[str]:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            return [key.decode() for key in client.scan_iter(match=f"*{self.prefix}*")]
        finally:
            client.close()


@pytest.fixture(scope="module")
def redis_space() -> Iterator[RedisSpace]:
    """Parallel runs share the server: each module counts under its own prefix, removed
    after (database 15, out of the way of a developer's own data in 0)."""
    space = RedisSpace(redis_server_url() + "/15", "test-" + uuid.uuid4().hex[:12])
    yield space
    import redis

    client = redis.Redis.from_url(space.url)
    for key in client.scan_iter(match=f"*{space.prefix}*"):
        client.delete(key)
    client.close()


# --- HTTP, as a browser and a partner app would ---------------------------------------------


def sign_in(session: requests.Session, base: str, email: str, password: str) -> None:
    page = session.get(base + "/login", timeout=10)
    answer = session.post(
        base + "/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:500]


def authorization_code(
    session: requests.Session, base: str, client_id: str, scope: str = "shared"
) -> tuple[str, str]:
    """Consent as the signed-in teammate; return (code, PKCE verifier)."""
    verifier = uuid.uuid4().hex + uuid.uuid4().hex
    url = (
        base
        + "/oauth/authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": scope,
                "state": "production-test",
                "code_challenge": create_s256_code_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
    )
    page = session.get(url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    answer = session.post(
        url,
        data={"csrf_token": csrf_from(page.text), "decision": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:500]
    params = parse_qs(urlsplit(answer.headers["Location"]).query)
    return params["code"][0], verifier


def exchange(base: str, client: dict[str, str], code: str, verifier: str) -> requests.Response:
    return requests.post(
        base + "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )


def refresh(base: str, client: dict[str, str], refresh_token: str) -> requests.Response:
    return requests.post(
        base + "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )


def me(base: str, token: str) -> requests.Response:
    return requests.get(
        base + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def partner_tokens(base: str, data: dict[str, Any], scope: str = "shared") -> dict[str, Any]:
    """A teammate's consent and the code exchange, over HTTP: the token response, with the
    spent ``code`` and ``code_verifier`` beside it (to look for in logs)."""
    session = requests.Session()
    sign_in(session, base, data["admin"]["email"], data["admin"]["password"])
    code, verifier = authorization_code(session, base, data["client"]["client_id"], scope)
    answer = exchange(base, data["client"], code, verifier)
    assert answer.status_code == 200, answer.text
    token: dict[str, Any] = answer.json()
    return {**token, "code": code, "code_verifier": verifier}


TRACEBACK = re.compile(r"Traceback \(most recent call last\)")
