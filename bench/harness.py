"""The server under test: its database, its environment, the CLI, gunicorn with 2 workers.

Each backend gets a temporary instance folder and a database of its own: a SQLite file
(the app turns WAL on for every connection, oauth_server/connections.py) or a PostgreSQL
database created here and dropped afterwards. Nothing of a developer's shell settings
leaks into the server.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

# The tests' rule for a child's environment (pytest is installed for the benchmark too).
from tests.processes import clean_env
from tests.processes import free_port
from tests.processes import is_ours

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
READY_TIMEOUT = 30.0
WORKERS = 2
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
APP = "oauth_server:create_app()"
BARE_APP = "bench.bare:app"  # the bare floor (bench/bare.py)


@contextlib.contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'bench.db'}"


def postgres_available(server_url: str) -> str | None:
    """None if we can create databases on ``server_url``, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (the 'postgres' extra)"
    try:
        with psycopg.connect(_libpq(server_url), connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return f"cannot connect to {_without_password(server_url)}: {str(error).strip()}"
    return None


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A database of our own on the server of ``server_url``, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"oauth_bench_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        yield url
    finally:
        with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    """The app (or ``bench/bare.py``'s) under gunicorn (2 workers) on a free loopback port."""

    database_url: str
    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    settings: dict[str, str] = field(default_factory=dict)
    threads: int | None = None  # None: what the gunicorn settings say
    app: str = APP  # the WSGI app gunicorn serves, in its notation
    ready_path: str = "/healthz"

    def __post_init__(self) -> None:
        from cryptography.fernet import Fernet

        instance = self.folder / "instance"
        instance.mkdir(parents=True, exist_ok=True)
        self.settings = {
            "DATABASE_URL": self.database_url,
            "OAUTH_SERVER_INSTANCE": str(instance),
            "OAUTH_ISSUER": self.url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            # The benchmark measures the server, not the limiter: limits are off.
            "RATELIMIT_ENABLED": "false",
            "GUNICORN_WORKERS": str(WORKERS),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
        }

    @property
    def env(self) -> dict[str, str]:
        return {**clean_env(), **self.settings}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def cli(self, *args: str) -> str:
        """``oauth-server ARGS`` with the server's settings; its stdout.

        Run in this process through click (the console script's own code): each new
        process would spend two seconds importing the app.
        """
        from click.testing import CliRunner

        from oauth_server.cli import main

        with app_env(self.settings):
            result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        if result.exit_code != 0:
            raise RuntimeError(f"oauth-server {' '.join(args[:2])}: {result.stderr.strip()}")
        return result.stdout

    def command(self) -> list[str]:
        gunicorn = [str(BIN / "gunicorn")]
        if importlib.util.find_spec("oauth_server.gunicorn_conf") is not None:
            # The production settings (worker class, threads, timeouts, logs); the flags
            # below take precedence over the file for the two we fix.
            gunicorn += ["-c", "python:oauth_server.gunicorn_conf"]
        else:
            gunicorn += ["--worker-class", "gthread", "--threads", "4"]
        if self.threads is not None:
            gunicorn += ["--threads", str(self.threads)]
        return [
            *gunicorn,
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{self.port}",
            self.app,
        ]

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command(),
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}):\n{self.log_tail()}")
            if len(self.workers()) == WORKERS:
                try:
                    with urllib.request.urlopen(self.url + self.ready_path, timeout=1) as answer:
                        if answer.status == 200:
                            return
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer {self.ready_path} in time:\n{self.log_tail()}")

    def drain(self) -> None:
        """Wait until the requests a run left queued are served: one request at a time
        queues behind them (a slow route's run ends with every thread still busy)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=READY_TIMEOUT):
                    pass
            except OSError:
                return
            if time.monotonic() - started < 0.05:
                return

    def workers(self) -> list[Any]:
        import psutil

        if self.proc is None:
            return []
        try:
            return list(psutil.Process(self.proc.pid).children())
        except psutil.NoSuchProcess:
            return []

    def worker_cpu_s(self) -> float:
        """CPU seconds (user and system) the workers have used so far."""
        return sum(self.worker_cpu_each())

    def worker_cpu_each(self) -> list[float]:
        """Each worker's CPU seconds (user and system) so far, in the order of ``workers``."""
        each = []
        for worker in self.workers():
            times = worker.cpu_times()
            each.append(times.user + times.system)
        return each

    def worker_rss_mb(self) -> list[float]:
        return [round(w.memory_info().rss / 2**20, 1) for w in self.workers()]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@contextlib.contextmanager
def app_env(settings: dict[str, str]) -> Iterator[None]:
    """The server's settings in this process too, for seeding through the app's services."""
    keys = {k for k in os.environ if is_ours(k)}
    saved = {k: os.environ[k] for k in keys | set(settings) if k in os.environ}
    for key in keys:
        del os.environ[key]
    os.environ.update(settings)
    try:
        yield
    finally:
        for key in keys | set(settings):
            os.environ.pop(key, None)
        os.environ.update(saved)
