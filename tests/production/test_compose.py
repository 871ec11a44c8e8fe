"""docker-compose.yml and the Dockerfile, checked without Docker: services, ports, health
checks, environment names the apps really read, commands that exist in the package."""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from oauth_server import config
from oauth_server import gunicorn_conf
from oauth_server.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
SERVER_SOURCES = (
    "oauth_server/config.py",
    "oauth_server/__init__.py",
    "oauth_server/gunicorn_conf.py",
)
DEMO_SOURCES = ("partners_demo/__init__.py", "partners_demo/__main__.py")
SECRETS = ("SECRET_KEY", "TOKEN_ENCRYPTION_KEY", "POSTGRES_PASSWORD")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def read_names(sources: tuple[str, ...]) -> set[str]:
    """Environment names read in these files: ``env.get("NAME"``, ``environ.get("NAME"``..."""
    text = "\n".join((REPO / source).read_text() for source in sources)
    pattern = r"(?:\benv\.get|\benviron\.get|\b_env\.get|\b_int|\b_flag)\(\s*\"([A-Z][A-Z0-9_]*)\""
    return set(re.findall(pattern, text))


def command_words(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_services_ports_and_health_checks(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "redis", "server", "worker", "partners_demo"}
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name
    # Only the server's port (and the demo's, which lives in the server's network) are
    # published; PostgreSQL and Redis stay on the compose network.
    assert "ports" not in services["postgres"]
    assert "ports" not in services["redis"]
    assert "ports" not in services["worker"]
    published = {port.split(":")[-1] for port in services["server"]["ports"]}
    assert published == {"8000", "5001"}
    assert services["partners_demo"]["network_mode"] == "service:server"
    assert services["server"]["environment"]["GUNICORN_BIND"] == "0.0.0.0:8000"
    # The server waits for healthy services; its own check is readiness (the database).
    assert services["server"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert "/readyz" in " ".join(services["server"]["healthcheck"]["test"])
    assert "/healthz" in " ".join(services["partners_demo"]["healthcheck"]["test"])


def test_the_server_reads_every_variable_it_is_given(services: dict[str, Any]) -> None:
    environment = services["server"]["environment"]
    declared = set(config.ENVIRONMENT) | set(gunicorn_conf.ENVIRONMENT)
    assert set(environment) <= declared, set(environment) - declared
    # The declared lists are what the code reads, no more and no less.
    assert read_names(SERVER_SOURCES) == declared
    assert environment["REDIS_URL"].startswith("redis://redis:")
    assert "@postgres:5432/" in environment["DATABASE_URL"]


def test_the_worker_shares_the_servers_database_queue_and_mail(services: dict[str, Any]) -> None:
    server, worker = services["server"]["environment"], services["worker"]["environment"]
    declared = set(config.ENVIRONMENT)
    assert set(worker) <= declared, set(worker) - declared
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TOKEN_ENCRYPTION_KEY", "MAIL_SERVER"):
        assert worker[name] == server[name], name
    assert worker["JOB_QUEUE_NAME"] == server["JOB_QUEUE_NAME"]
    words = command_words(services["worker"])
    assert words[:2] == ["oauth-server", "worker"]
    assert CliRunner().invoke(cli_main, ["worker", "--help"]).exit_code == 0
    # Migrated first: the server upgrades the schema before it is healthy.
    assert services["worker"]["depends_on"]["server"] == {"condition": "service_healthy"}


def test_redis_keeps_the_queue_across_restarts(services: dict[str, Any]) -> None:
    words = command_words(services["redis"])
    assert words[words.index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])


def test_the_demo_reads_every_variable_it_is_given(services: dict[str, Any]) -> None:
    environment = services["partners_demo"]["environment"]
    assert set(environment) <= read_names(DEMO_SOURCES), set(environment) - read_names(DEMO_SOURCES)


def test_secrets_come_from_the_environment_only(services: dict[str, Any]) -> None:
    """Required secrets use ${NAME:?...}: no default value, compose refuses to start."""
    raw = (REPO / "docker-compose.yml").read_text()
    for name in SECRETS:
        assert re.search(r"\$\{" + name + r":\?", raw), f"{name} is not required"
        assert not re.search(r"\$\{" + name + r":-", raw), f"{name} has a default"
    for service in services.values():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            # Every value is a reference to the environment, or a plain non-secret
            # setting (an address, a path, a number).
            if any(word in key for word in ("SECRET", "PASSWORD", "KEY")) and key not in {
                "RATELIMIT_KEY_PREFIX"
            }:
                assert value.startswith("${"), f"{key} is baked into the compose file"
    dockerfile = (REPO / "Dockerfile").read_text()
    assert not re.search(r"(?m)^\s*(ENV|ARG)\b.*(SECRET|PASSWORD|TOKEN_ENCRYPTION)", dockerfile)


def test_the_server_command_exists_in_the_package(services: dict[str, Any]) -> None:
    words = command_words(services["server"])
    assert words[:2] == ["sh", "-c"]
    script = shlex.split(words[2])
    # `oauth-server db upgrade`, then gunicorn with the package's settings.
    assert script[:3] == ["oauth-server", "db", "upgrade"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["oauth-server"] == "oauth_server.cli:main"
    assert CliRunner().invoke(cli_main, ["db", "upgrade", "--help"]).exit_code == 0
    assert script[3:6] == ["&&", "exec", "gunicorn"]
    gunicorn_args = script[6:]
    config_module = gunicorn_args[gunicorn_args.index("--config") + 1]
    assert config_module.startswith("python:")
    assert importlib.util.find_spec(config_module.removeprefix("python:")) is not None
    module_name, _, call = gunicorn_args[-1].partition(":")
    assert call == "create_app()"
    assert callable(importlib.import_module(module_name).create_app)


def test_gunicorn_accepts_the_settings_and_the_app(tmp_path: Path) -> None:
    """gunicorn --check-config loads the settings module and the app, then exits."""
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--check-config",
            "--config",
            "python:oauth_server.gunicorn_conf",
            "oauth_server:create_app()",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "OAUTH_SERVER_INSTANCE": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr


def test_the_demo_command_exists_in_the_package(services: dict[str, Any]) -> None:
    words = command_words(services["partners_demo"])
    assert words[:3] == ["python", "-m", "partners_demo"]
    assert importlib.util.find_spec("partners_demo.__main__") is not None
    # It listens on every interface of the shared network namespace, on the published port.
    assert words[words.index("--host") + 1] == "0.0.0.0"
    assert words[words.index("--port") + 1] == "5001"
    assert services["partners_demo"]["profiles"] == ["demo"]


def test_the_image_is_small_and_installs_the_package() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"(?m)^FROM python:3\.11-slim$", dockerfile)
    assert 'pip install "/src[postgres]"' in dockerfile
    assert re.search(r"(?m)^USER app$", dockerfile), "the server must not run as root"
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", "instance", "tests"} <= set(ignored)


def test_defaults_in_the_compose_file_are_the_apps(
    services: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ${NAME:-default} that repeats a setting's default must not drift from it."""
    for name in config.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    defaults = config.load(str(tmp_path))
    checked = 0
    for name, value in services["server"]["environment"].items():
        found = re.fullmatch(r"\$\{(\w+):-([^}]*)\}", str(value))
        if not found or name not in defaults or name == "OAUTH_ISSUER":  # compose serves :8000
            continue
        if found.group(2) == "":  # empty is unset: the app's default, whatever it is
            continue
        assert found.group(2) == str(defaults[name]), name
        checked += 1
    assert checked >= 8
