"""The gunicorn settings of the package: from the environment, with sensible defaults, and
logs that are JSON lines without a token, in a real gunicorn process."""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import psutil
import pytest
import requests

from oauth_server import gunicorn_conf
from tests.production.conftest import TRACEBACK
from tests.production.conftest import Server
from tests.production.conftest import base_env
from tests.production.conftest import me
from tests.production.conftest import seed


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The settings module, read again under the test's environment, and restored after."""
    for name in (*gunicorn_conf.ENVIRONMENT, "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    yield gunicorn_conf
    monkeypatch.undo()
    importlib.reload(gunicorn_conf)


def test_defaults(settings: ModuleType) -> None:
    conf = importlib.reload(settings)

    assert conf.bind == ["127.0.0.1:8000"]
    assert 1 <= conf.workers <= 8
    assert (conf.worker_class, conf.threads) == ("gthread", 1)
    assert (conf.timeout, conf.graceful_timeout, conf.keepalive) == (30, 30, 5)
    assert conf.preload_app is False  # no connection pool crosses a fork
    assert conf.reuse_port is True  # a listening socket per worker
    assert conf.accesslog is None  # the app logs each request itself
    assert conf.logconfig_dict["handlers"]["stderr"]["formatter"] == "json"


def test_one_thread_a_worker_on_postgresql_too(
    settings: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://oauth@db:5432/oauth")
    assert importlib.reload(settings).threads == 1
    monkeypatch.setenv("GUNICORN_THREADS", "2")
    assert importlib.reload(settings).threads == 2


def test_settings_come_from_the_environment(
    settings: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "GUNICORN_BIND": "0.0.0.0:9000",
        "GUNICORN_WORKERS": "3",
        "GUNICORN_THREADS": "8",
        "GUNICORN_TIMEOUT": "60",
        "GUNICORN_GRACEFUL_TIMEOUT": "20",
        "GUNICORN_KEEPALIVE": "2",
        "GUNICORN_ACCESS_LOG": "true",
        "GUNICORN_REUSE_PORT": "false",
        "LOG_LEVEL": "warning",
    }.items():
        monkeypatch.setenv(name, value)
    conf = importlib.reload(settings)

    assert conf.bind == ["0.0.0.0:9000"]
    assert (conf.workers, conf.threads, conf.timeout) == (3, 8, 60)
    assert (conf.graceful_timeout, conf.keepalive) == (20, 2)
    assert conf.accesslog == "-"
    assert conf.reuse_port is False
    assert conf.loglevel == "warning"
    assert conf.logconfig_dict["root"]["level"] == "WARNING"
    assert conf.logconfig_dict["loggers"]["gunicorn.access"]["level"] == "INFO"


def test_a_worker_freezes_what_it_built_before_serving(settings: ModuleType) -> None:
    """What exists once the app is built is left out of the garbage collector's full
    collections (gunicorn calls post_worker_init in each worker after loading the app)."""
    gc.unfreeze()
    built = ["a container, so the collector tracks it"]
    assert any(o is built for o in gc.get_objects())
    try:
        settings.post_worker_init(None)
        assert gc.get_freeze_count() > 10_000  # the app, its imports, all alive now
        assert not any(o is built for o in gc.get_objects())  # out of the collector's sight
        later = ["what a request makes"]
        assert any(o is later for o in gc.get_objects())  # still collected as before
    finally:
        gc.unfreeze()


def test_the_access_log_format_has_no_query_string_and_no_header() -> None:
    fmt = gunicorn_conf.access_log_format

    assert "%(U)s" in fmt  # the path alone
    for atom in ("%(r)s", "%(q)s", "%(u)s", "%(f)s", "%(a)s"):
        assert atom not in fmt
    assert "}i)s" not in fmt  # no request header (Authorization, Cookie)


def test_a_gunicorn_process_logs_json_lines_without_tokens(tmp_path: Path) -> None:
    env = base_env(
        tmp_path,
        f"sqlite:///{tmp_path / 'server.db'}",
        GUNICORN_ACCESS_LOG="true",
    )
    server = Server(env, tmp_path / "server.log").start(wait=False)  # boots while we seed
    try:
        data = seed(env)
        token = data["personal"][0]
        client = data["client"]
        server.wait_ready()
        assert me(server.url, token).status_code == 200
        in_url = requests.get(f"{server.url}/api/v1/me?access_token={token}", timeout=10)
        assert in_url.status_code == 400
        traced = requests.get(
            server.url + "/api/v1/inboxes",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-42"},
            timeout=10,
        )
        assert traced.headers["X-Request-ID"] == "trace-42"
        refused = requests.post(
            server.url + "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            auth=(client["client_id"], client["client_secret"]),
            timeout=10,
        )
        assert refused.status_code == 400
    finally:
        server.stop()

    text = server.log_text()
    for secret in (token, client["client_secret"], env["SECRET_KEY"]):
        assert secret not in text
    assert not TRACEBACK.search(text)
    lines = server.json_lines()  # every line parses
    requests_logged = [line for line in lines if line["logger"] == "oauth_server.request"]
    traced_line = next(line for line in requests_logged if line["request_id"] == "trace-42")
    assert traced_line["route"] == "/api/v1/inboxes"
    assert traced_line["company_id"] == data["company_id"]
    assert traced_line["token_id"] and traced_line["status"] == 200
    access = [line["message"] for line in lines if line["logger"] == "gunicorn.access"]
    assert any('"GET /api/v1/me HTTP/1.1" 400' in message for message in access)
    assert not any("?" in message for message in access)
    assert any(message.endswith(" trace-42") for message in access)


def _listening_sockets(pid: int, port: int) -> set[str]:
    """The listening TCP sockets on ``port`` that process ``pid`` holds, as socket inodes."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                listening.add(f"socket:[{inode}]")
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            held.add(os.readlink(fd))
    return listening & held


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
def test_each_worker_takes_connections_on_a_socket_of_its_own(tmp_path: Path) -> None:
    """A burst of connections is spread over the workers by the kernel (SO_REUSEPORT),
    instead of going to whichever worker wakes first on one shared socket."""
    env = base_env(tmp_path, f"sqlite:///{tmp_path / 'server.db'}", GUNICORN_WORKERS="2")
    server = Server(env, tmp_path / "server.log").start()
    assert server.proc is not None
    port = int(server.url.rsplit(":", 1)[1])
    opened: list[socket.socket] = []
    try:
        # Each worker binds its socket just after the fork: wait for both.
        deadline = time.monotonic() + 10
        while True:
            workers = psutil.Process(server.proc.pid).children()
            sockets = [_listening_sockets(worker.pid, port) for worker in workers]
            if len(workers) == 2 and all(sockets) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(sockets) == 2 and all(len(held) == 1 for held in sockets), sockets
        assert sockets[0] != sockets[1]  # not one socket inherited from the master
        assert not _listening_sockets(server.proc.pid, port)

        for _ in range(32):  # opened at once, as a proxy's pool or a load generator does
            opened.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        for connection in opened:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for connection in opened:
            assert connection.recv(4096).startswith(b"HTTP/1.1 200 ")
        held = [
            sum(
                1
                for c in worker.net_connections("tcp")
                if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
            )
            for worker in workers
        ]
        # Each connection lands on either socket by a hash of its address: both workers
        # hold some of the 32 but for one chance in two billion.
        assert sum(held) == 32 and min(held) > 0, held
    finally:
        for connection in opened:
            connection.close()
        server.stop()
