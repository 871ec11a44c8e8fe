"""Where a route's time goes: py-spy samples the gunicorn workers while wrk drives it.

py-spy (the ``bench`` extra) records both workers (``--subprocesses`` on the master) and
writes collapsed stacks. Each sample is given to one part of the stack, looking from the
innermost frame outwards for the first frame we can name (SQLAlchemy, Authlib, logging,
Flask-Login...): a flat "self time" breakdown. Beside it, the inclusive share of the
functions of ``oauth_server`` (how much of the time is spent inside each of them).
Samples are taken from the thread holding the GIL: in a worker process only one thread
runs Python at a time, so that is what bounds a worker's requests per second. Time spent
without the GIL (waiting for PostgreSQL, inside SQLite's C code, in socket calls) is not
in these numbers.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

RATE = 200  # samples per second per thread

# (name, test on the frame's file path and function), first match wins, innermost first.
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")

CATEGORIES: list[tuple[str, str, str | None]] = [
    # name, path fragment (from a folder boundary), function name (None: any)
    ("database driver (psycopg, sqlite3)", "sqlalchemy/engine/default.py", "do_execute"),
    ("database driver (psycopg, sqlite3)", "sqlalchemy/engine/default.py", "do_executemany"),
    ("database driver (psycopg, sqlite3)", "sqlalchemy/engine/default.py", "do_commit"),
    ("database driver (psycopg, sqlite3)", "sqlalchemy/engine/default.py", "do_rollback"),
    ("database driver (psycopg, sqlite3)", "psycopg/", None),
    ("database driver (psycopg, sqlite3)", "sqlite3/", None),
    ("SQLAlchemy pool (checkout, pre-ping, reset)", "sqlalchemy/pool/", None),
    ("SQLAlchemy pool (checkout, pre-ping, reset)", "sqlalchemy/engine/base.py", "_do_ping"),
    ("SQLAlchemy ORM (session, loading, flush)", "sqlalchemy/orm/", None),
    ("SQLAlchemy SQL compiler", "sqlalchemy/sql/compiler.py", None),
    ("SQLAlchemy statements (building, cache keys)", "sqlalchemy/sql/", None),
    ("SQLAlchemy engine (execute, results)", "sqlalchemy/", None),
    ("Flask-SQLAlchemy", "flask_sqlalchemy/", None),
    ("Authlib", "authlib/", None),
    ("Flask-Login (session user loading)", "flask_login/", None),
    ("Flask-Limiter / limits", "flask_limiter/", None),
    ("Flask-Limiter / limits", "limits/", None),
    ("Flask-WTF / CSRF", "flask_wtf/", None),
    ("Flask-WTF / CSRF", "wtforms/", None),
    ("request logs (oauth_server/logs.py, logging)", "oauth_server/logs.py", None),
    ("request logs (oauth_server/logs.py, logging)", "logging/", None),
    ("gunicorn access log atoms (logconfig_dict set)", "gunicorn/glogging.py", None),
    ("Jinja2 templates", "jinja2/", None),
    ("Jinja2 templates", "markupsafe/", None),
    ("pydantic (API schemas)", "pydantic/", None),
    ("cryptography (Fernet)", "cryptography/", None),
    ("token strings and hashes (oauth_server/tokens.py)", "oauth_server/tokens.py", None),
    ("Flask sessions / itsdangerous", "itsdangerous/", None),
    ("Flask sessions / itsdangerous", "flask/sessions.py", None),
    ("Flask (dispatch, contexts, JSON)", "flask/", None),
    ("Werkzeug (request parsing, routing, response)", "werkzeug/", None),
    ("gunicorn (HTTP parsing, worker loop, sockets)", "gunicorn/", None),
    ("app code (oauth_server)", "oauth_server/", None),
]


def _in(fragment: str, path: str) -> bool:
    """``fragment`` names a folder or file of ``path``, from a folder boundary."""
    return ("/" + fragment) in ("/" + path)


def _named(func: str, wanted: str | None) -> bool:
    """py-spy names methods ``Class.method``."""
    return wanted is None or func == wanted or func.endswith("." + wanted)


def category(stack: list[tuple[str, str]]) -> str:
    for func, path in reversed(stack):
        for name, fragment, wanted in CATEGORIES:
            if _in(fragment, path) and _named(func, wanted):
                return name
    return "other (interpreter, stdlib)"


def _parse(line: str) -> tuple[list[tuple[str, str]], int] | None:
    stack_text, _, count = line.rstrip("\n").rpartition(" ")
    if not stack_text or not count.isdigit():
        return None
    frames: list[tuple[str, str]] = []
    for frame in stack_text.split(";"):
        match = _FRAME.match(frame)
        if match:
            frames.append((match.group("func"), match.group("file")))
        else:
            frames.append((frame, ""))
    return frames, int(count)


@dataclass
class Profile:
    route: str
    samples: int = 0
    requests: int = 0
    seconds: float = 0.0
    flat: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    raw_file: Path | None = None

    def us_per_request(self, samples: int) -> float:
        """CPU microseconds per request that ``samples`` stand for."""
        if not self.requests:
            return 0.0
        return samples / RATE / self.requests * 1e6

    def lines(self, top: int = 12) -> list[str]:
        total = self.samples or 1
        cpu = self.us_per_request(self.samples)
        out = [
            f"{self.route}: {self.requests} requests profiled, {cpu:.0f} us per request "
            f"holding the GIL ({self.samples} samples; a busy machine inflates it)"
        ]
        out.append("  where the time goes (innermost frame we can name):")
        for name, n in self.flat.most_common(top):
            out.append(f"    {100 * n / total:5.1f}%  {self.us_per_request(n):7.0f} us  {name}")
        out.append("  inclusive, functions of oauth_server and the libraries they call into:")
        for name, n in self.inclusive.most_common(top):
            out.append(f"    {100 * n / total:5.1f}%  {self.us_per_request(n):7.0f} us  {name}")
        return out


# Functions whose inclusive share is reported: ours, and the entry points of libraries.
_INCLUSIVE = [
    ("oauth_server/", None),
    ("flask_login/utils.py", "_get_user"),
    ("flask_login/login_manager.py", "_load_user"),
    ("flask_limiter/", "_check_request_limit"),
    ("flask_wtf/csrf.py", "protect"),
    ("flask/app.py", "preprocess_request"),
    ("flask/app.py", "process_response"),
    ("flask/app.py", "do_teardown_request"),
    ("flask/ctx.py", "push"),
    ("flask/ctx.py", "pop"),
    ("authlib/", "create_token_response"),
    ("authlib/", "authenticate_client"),
    ("authlib/", "create_endpoint_response"),
    ("sqlalchemy/orm/session.py", "commit"),
    ("sqlalchemy/orm/session.py", "execute"),
    ("sqlalchemy/orm/session.py", "scalar"),
    ("sqlalchemy/orm/session.py", "close"),
    ("sqlalchemy/engine/base.py", "_execute_context"),
    ("sqlalchemy/pool/base.py", "_checkout"),
    ("sqlalchemy/engine/default.py", "do_execute"),
    ("sqlalchemy/engine/default.py", "do_commit"),
    ("logging/__init__.py", "handle"),
    ("jinja2/environment.py", "render"),
    ("gunicorn/glogging.py", "access"),
    ("flask/sessions.py", "open_session"),
    ("flask/sessions.py", "save_session"),
    ("werkzeug/routing/map.py", "match"),
]


def _inclusive_names(stack: list[tuple[str, str]]) -> set[str]:
    names = set()
    for func, path in stack:
        for fragment, wanted in _INCLUSIVE:
            if _in(fragment, path) and _named(func, wanted):
                short = path.split("site-packages/")[-1]
                if fragment == "oauth_server/":
                    short = "oauth_server/" + path.split("oauth_server/")[-1]
                names.add(f"{short}:{func}")
    return names


def summarize(route: str, raw_file: Path, requests: int, seconds: float) -> Profile:
    profile = Profile(route=route, requests=requests, seconds=seconds, raw_file=raw_file)
    for line in raw_file.read_text(errors="replace").splitlines():
        parsed = _parse(line)
        if parsed is None:
            continue
        stack, count = parsed
        # Idle gunicorn threads (waiting on the queue or a socket) are not sampled by
        # py-spy without --idle; the main thread's select loop is, when it runs.
        profile.samples += count
        profile.flat[category(stack)] += count
        for name in _inclusive_names(stack):
            profile.inclusive[name] += count
    return profile


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def record(master_pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    """Start py-spy on the gunicorn master and its workers for ``seconds``."""
    spy = py_spy()
    if spy is None:
        raise RuntimeError("py-spy is not installed (pip install -e '.[bench]')")
    proc = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(master_pid),
            "--subprocesses",
            "--rate",
            str(RATE),
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "--output",
            str(out),
            # Only the thread holding the GIL: a worker serves one request at a time in
            # Python, so GIL time per request is what bounds its throughput.
            "--gil",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)  # py-spy attaches before the load starts
    return proc
