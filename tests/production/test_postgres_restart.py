"""The PostgreSQL server restarts under load: requests fail only while it is down, as a
clear 503 (never a 500 with a trace), the server recovers by itself (pooled connections
are checked at checkout, oauth_server/connections.py), and no token or grant issued
before is lost.

The test runs a PostgreSQL server of its own (initdb in a temporary folder, its own port,
pg_ctl), never the machine's shared one. Without the server binaries it is skipped on a
developer's machine and fails under CI.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest
import requests

from tests.processes import unavailable
from tests.production.conftest import TRACEBACK
from tests.production.conftest import Server
from tests.production.conftest import base_env
from tests.production.conftest import free_port
from tests.production.conftest import me
from tests.production.conftest import partner_tokens
from tests.production.conftest import refresh
from tests.production.conftest import seed

OUTAGE_SECONDS = 1.5
RECOVERY_TIMEOUT = 15.0


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's binaries (Debian layout), or those on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Cluster:
    """A PostgreSQL server in a temporary folder: initdb, pg_ctl start/stop, as its owner."""

    bin: Path
    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *args: str) -> None:
        # initdb and postgres refuse to run as root: run them as the `postgres` user.
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = self.folder / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise AssertionError(f"{' '.join(args)}: {done.stderr}{done.stdout}\n{tail}")

    def init(self) -> None:
        self._as_owner(
            "initdb",
            "-D",
            str(self.folder / "data"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        self._as_owner(
            "pg_ctl",
            "-D",
            str(self.folder / "data"),
            "-l",
            str(self.folder / "postgres.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_owner("pg_ctl", "-D", str(self.folder / "data"), "-m", mode, "-w", "stop")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    binaries = postgres_bin()
    if binaries is None or not (binaries / "pg_ctl").exists():
        unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
    assert binaries is not None
    # Not pytest's tmp_path: its parent folders are private to root, and the server runs
    # as `postgres`.
    folder = Path(tempfile.mkdtemp(prefix="oauth-pg-restart-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    running = Cluster(binaries, folder)
    try:
        running.init()
        running.start()
        yield running
    finally:
        try:
            running.stop("immediate")
        except AssertionError:
            pass  # not running
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Answer:
    at: float
    status: int
    body: str
    retry_after: str | None = None


class Load:
    """Clients sending requests in a loop until stopped; every answer is kept."""

    def __init__(self, server: Server, tokens: list[str], client: dict[str, str]) -> None:
        self.server, self.tokens, self.client = server, tokens, client
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(3)]

    def _request(self, i: int) -> requests.Response:
        if i % 3 == 2:  # the token endpoint: client authentication reads the database
            return requests.post(
                self.server.url + "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": "wsp_ort_unknown"},
                auth=(self.client["client_id"], self.client["client_secret"]),
                timeout=10,
            )
        return me(self.server.url, self.tokens[i % len(self.tokens)])

    def _run(self, worker: int) -> None:
        i = worker
        while not self._stop.is_set():
            try:
                answer = self._request(i)
                self.answers.append(
                    Answer(
                        time.monotonic(),
                        answer.status_code,
                        answer.text,
                        answer.headers.get("Retry-After"),
                    )
                )
            except requests.RequestException as error:  # no answer at all: a failure too
                self.answers.append(Answer(time.monotonic(), 0, repr(error)))
            i += 3
            time.sleep(0.01)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def since(self, moment: float) -> list[Answer]:
        return [answer for answer in list(self.answers) if answer.at >= moment]


def healthy(answer: Answer) -> bool:
    return answer.status in (200, 400)  # 400: the unknown refresh token, as expected


def test_a_postgres_restart_costs_only_503s_while_it_is_down(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = base_env(
        tmp_path,
        cluster.url,
        LAST_USED_RESOLUTION="0",  # every API call writes: the outage hits writes too
        RATELIMIT_ENABLED="false",
    )
    server = Server(env, tmp_path / "server.log").start(wait=False)
    try:
        data = seed(env)
        server.wait_ready()
        issued = partner_tokens(server.url, data)
        rotated = refresh(server.url, data["client"], issued["refresh_token"]).json()
        bearers = [*data["personal"], *data["other_personal"], rotated["access_token"]]

        with Load(server, bearers, data["client"]) as load:
            time.sleep(0.5)
            down = time.monotonic()
            cluster.stop("fast")  # an operator's restart: clients are disconnected
            time.sleep(OUTAGE_SECONDS)
            cluster.start()
            up = time.monotonic()
            deadline = up + RECOVERY_TIMEOUT
            while time.monotonic() < deadline:
                recent = load.since(time.monotonic() - 0.3)
                if len(recent) >= 10 and all(healthy(a) for a in recent):
                    break
                time.sleep(0.1)
            recovered = time.monotonic()
            time.sleep(0.3)

        answers = load.answers
        assert {a.status for a in answers} <= {200, 400, 503}, sorted(
            {(a.status, a.body[:200]) for a in answers if a.status not in (200, 400, 503)}
        )
        failed = [a for a in answers if a.status == 503]
        assert failed, "the outage was not seen: no request failed while PostgreSQL was down"
        # Failures only while it was down or starting (plus a request in flight).
        assert all(down - 0.5 <= a.at <= up + 1.0 for a in failed), (down, up, failed[-1])
        for answer in failed:
            assert "Traceback" not in answer.body
            assert "unavailable" in answer.body  # the JSON of the API or of OAuth
            assert answer.retry_after == "1"
        assert recovered < deadline, "no recovery after the restart"
        assert all(healthy(a) for a in load.since(recovered))
        assert any(a.at < down and healthy(a) for a in answers)

        # Nothing issued before the restart was lost.
        for token in bearers:
            assert me(server.url, token).status_code == 200
        assert refresh(server.url, data["client"], rotated["refresh_token"]).status_code == 200
        readiness = requests.get(server.url + "/readyz", timeout=5)
        assert readiness.status_code == 200
    finally:
        server.stop()
    log = server.log_text()
    assert not TRACEBACK.search(log), log[-3000:]
    assert "database unavailable" in log
