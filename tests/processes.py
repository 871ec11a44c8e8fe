"""Apps run as real processes on loopback ports, for the end-to-end and production tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from oauth_server.config import ENVIRONMENT

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 30.0
# Settings a developer's shell may hold that would leak into the processes we start: every
# variable the server reads (config.ENVIRONMENT), and anything of ours, gunicorn's or the
# partner demo's by its prefix.
_OUR_NAMES = frozenset(ENVIRONMENT)
_OUR_PREFIXES = (
    "OAUTH_",
    "PARTNERS_DEMO_",
    "RATELIMIT_",
    "ACCESS_TOKEN_",
    "REFRESH_TOKEN_",
    "GUNICORN_",
)


def unavailable(reason: str) -> None:
    """Skip on a developer's machine; under CI (``CI=true``) what a test needs must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: these tests must run)", pytrace=False)
    pytest.skip(reason)


def redis_server_url() -> str:
    """The Redis server tests may use (127.0.0.1:6379), or a skip (a failure under CI)."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        unavailable(f"Redis is not reachable at {url}: {error}")
    return url


def is_ours(name: str) -> bool:
    """Whether the environment variable ``name`` is one of our settings."""
    return name in _OUR_NAMES or name.startswith(_OUR_PREFIXES)


def clean_env() -> dict[str, str]:
    """This process's environment without any of our settings: the base of a child's."""
    env = {key: value for key, value in os.environ.items() if not is_ours(key)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(args: list[str], env: dict[str, str]) -> str:
    """Run a command of ours to its end; its output, or the test fails with its stderr."""
    done = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Process:
    """One app in its own process; its output goes to a log file, kept for failures."""

    name: str
    args: list[str]
    env: dict[str, str]
    url: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
            )

    def start(self, wait: bool = True) -> Process:
        self.launch()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Until ``/healthz`` answers 200; fail with the log's tail if it never does."""
        assert self.proc is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"{self.name} did not answer /healthz in time:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def json_lines(self) -> list[dict[str, Any]]:
        """The log, one JSON object a line (every line must be one)."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.strip()]
