"""Passwords: argon2id, old hashes upgraded at sign-in, common passwords refused."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from oauth_server import passwords
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import Teammate
from oauth_server.services import teammates
from tests.conftest import login
from tests.conftest import post_form
from tests.factories import PASSWORD
from tests.factories import make_company
from tests.factories import make_teammate
from tests.isolation import fresh
from tests.processes import clean_env

CHEAP = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


def _stored(teammate: Teammate) -> str:
    return str(fresh(teammate).password_hash)


def test_production_hashes_are_argon2id_with_the_libraries_defaults(app: Flask) -> None:
    app.config["PASSWORD_ARGON2"] = None  # what production runs
    stored = passwords.hash_password(PASSWORD)

    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify(stored, PASSWORD) == (True, None)
    assert passwords.verify(stored, PASSWORD + "x") == (False, None)


@pytest.mark.parametrize("method", ["pbkdf2:sha256:1000", "scrypt"])
def test_an_old_werkzeug_hash_signs_in_and_becomes_argon2(
    client: FlaskClient, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    teammate = make_teammate(email="old@acme.test")
    teammate.password_hash = generate_password_hash(PASSWORD, method=method)
    db.session.commit()

    with caplog.at_level(logging.INFO, logger="oauth_server.audit"):
        login(client, "old@acme.test", PASSWORD)

    upgraded = _stored(teammate)
    assert upgraded.startswith("$argon2id$")
    assert passwords.verify(upgraded, PASSWORD) == (True, None)
    assert "password hash upgraded" in [r.getMessage() for r in caplog.records]
    assert PASSWORD not in caplog.text


def test_a_wrong_password_upgrades_nothing(client: FlaskClient) -> None:
    teammate = make_teammate(email="old@acme.test")
    old = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    teammate.password_hash = old
    db.session.commit()

    answer = post_form(
        client, "/login", "/login", {"email": "old@acme.test", "password": "nope-nope"}
    )

    assert answer.status_code == 401
    assert _stored(teammate) == old


def test_an_argon2_hash_with_outdated_parameters_is_redone_at_sign_in(
    app: Flask, client: FlaskClient
) -> None:
    teammate = make_teammate(email="cheap@acme.test")  # hashed with the tests' CHEAP
    assert "m=8,t=1,p=1" in _stored(teammate)
    app.config["PASSWORD_ARGON2"] = {"time_cost": 2, "memory_cost": 16, "parallelism": 1}

    login(client, "cheap@acme.test", PASSWORD)

    assert "m=16,t=2,p=1" in _stored(teammate)


def test_an_inactive_teammate_is_refused_and_keeps_the_old_hash(app: Flask) -> None:
    teammate = make_teammate(email="gone@acme.test")
    old = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    teammate.password_hash, teammate.active = old, False
    db.session.commit()

    assert teammates.authenticate("gone@acme.test", PASSWORD) is None
    assert _stored(teammate) == old


def test_an_unknown_email_costs_a_password_check_too(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = passwords._hasher

    def spy() -> object:
        hasher = real()
        checked.append("hasher")
        return hasher

    monkeypatch.setattr(passwords, "_hasher", spy)
    assert teammates.authenticate("nobody@acme.test", PASSWORD) is None
    assert checked  # argon2 ran against the dummy hash


def test_a_provisioned_teammate_has_a_hash_no_password_matches(app: Flask) -> None:
    teammate = teammates.provision_teammate(make_company(), user_name="new@acme.test")
    stored = _stored(teammate)

    assert stored.startswith(passwords.UNUSABLE_PREFIX)
    for attempt in ("", stored, stored[1:], PASSWORD):
        assert teammates.authenticate("new@acme.test", attempt) is None


@pytest.mark.parametrize("common", ["password1", "Password123", "QWERTY123", "iloveyou"])
def test_a_common_password_is_refused_with_a_clear_message(app: Flask, common: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        teammates.check_password(common)
    assert refused.value.field == "password"
    assert "most common" in refused.value.message
    with pytest.raises(ValidationFailed):
        make_teammate(password=common)


def test_an_uncommon_password_of_the_minimum_length_is_accepted(app: Flask) -> None:
    assert teammates.check_password("zq8-Wm4r") == "zq8-Wm4r"
    with pytest.raises(ValidationFailed, match="8 to 200"):
        teammates.check_password("zq8-Wm4")


def test_the_command_line_refuses_a_common_password(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    teammate = make_teammate(email="a@acme.test")
    before = _stored(teammate)
    env = clean_env() | {"OAUTH_SERVER_INSTANCE": str(tmp_path), "DATABASE_URL": database_url}
    bin_ = str(Path(sys.executable).parent / "oauth-server")
    done = subprocess.run(
        [bin_, "users", "update", "--email", "a@acme.test", "--password", "password1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "most common" in done.stderr and "password1" not in done.stderr
    assert _stored(teammate) == before
