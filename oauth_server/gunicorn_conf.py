"""Gunicorn settings for production, every one from the environment.

    gunicorn --config python:oauth_server.gunicorn_conf 'oauth_server:create_app()'

Workers are stateless: each builds its own app (no ``preload_app``, so no database
connection crosses a fork); rate limits live in Redis (REDIS_URL), everything else in the
database. Logs are JSON lines on stderr (oauth_server/logs.py): the app writes one line
per request, so gunicorn's own access log is off unless GUNICORN_ACCESS_LOG=true; its
format then holds the path without the query string and no request header.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os

from gunicorn.glogging import Logger

from oauth_server import logs

# The variables read here, and DATABASE_URL (see oauth_server.config.ENVIRONMENT).
ENVIRONMENT = (
    "GUNICORN_BIND",
    "GUNICORN_WORKERS",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_ACCESS_LOG",
    "GUNICORN_REUSE_PORT",
    "LOG_LEVEL",
)

_env = os.environ


def _int(name: str, default: int) -> int:
    return int(_env.get(name) or default)


def _flag(name: str, default: bool) -> bool:
    value = (_env.get(name) or "").strip().lower()
    return value in {"1", "true", "yes", "on"} if value else default


bind = [_env.get("GUNICORN_BIND") or "127.0.0.1:8000"]
# One thread per process, two processes per CPU: a request's wait on the database is
# covered by the other processes on its CPU. Threads of one process take turns at the
# GIL, and a thread whose query has returned waits for the running one to let go (up to
# Python's 5 ms switch interval). On PostgreSQL, 1 thread a worker served GET /api/v1/me
# and the conversations list 15 to 20% faster than 4 threads, and /me's p99 was 1.5 to
# 2.1 times its median, against 2.8 to 3.7 (bench/run.py's load, 2 CPUs).
# On SQLite a second thread adds only waits: one writer goes at a time
# (sqlite_writers.py). GUNICORN_THREADS sets more, for requests that wait on slow services.
workers = _int("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8))
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
preload_app = False
# Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new
# connections over them by address. On one shared socket, the worker that wakes first
# accepts a whole burst: of 16 connections opened at once (a proxy's kept-alive upstream
# pool, a load generator's), one worker took 13 or more in 12 of 32 runs, and their
# answers waited 4 to 15 times as long as the other worker's; with a socket per worker,
# in 2 runs of 40. The costs: connections still queued on a worker's socket when it
# exits are reset, and a second server started on the same port by the same user shares
# the port instead of failing. GUNICORN_REUSE_PORT=false gives one shared socket.
reuse_port = _flag("GUNICORN_REUSE_PORT", True)
# Gunicorn 25+ opens a control socket in the home folder by default: two servers on one
# host would share its path, and nothing here uses it.
control_socket_disable = True

loglevel = (_env.get("LOG_LEVEL") or "INFO").lower()
_access = _flag("GUNICORN_ACCESS_LOG", False)
accesslog = "-" if _access else None
# %(U)s is the path without the query string (where a misbehaving client may put a
# token); no %(r)s, %(q)s or %({...}i)s request headers (Authorization, Cookie).
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms %({x-request-id}o)s'
logconfig_dict = logs.dict_config(loglevel, access_log=_access)
logs.lean_records()


class QuietAccessLogger(Logger):
    """Gunicorn's logger, which builds no access line nobody will see.

    With ``logconfig_dict`` set, gunicorn computes each response's access-log fields even
    when the ``gunicorn.access`` logger drops INFO, as it does unless GUNICORN_ACCESS_LOG
    is on: about 30 us a request for nothing.
    """

    @property
    def access_log_enabled(self) -> bool:
        return bool(super().access_log_enabled) and self.access_log.isEnabledFor(logging.INFO)


logger_class = QuietAccessLogger


def post_worker_init(worker: object) -> None:
    """Once the worker has built its app, keep what it built out of the cyclic garbage
    collector's sight (``gc.freeze``, as the ``gc`` documentation suggests for servers).

    The imports, routes, models and statements built at start are some 150,000 objects
    that live as long as the worker. A full collection walked them all, about 40 ms
    during which every thread of the worker waits for the GIL: the slowest requests of a
    run. Frozen, they are never walked again; what requests create is still collected.
    """
    gc.freeze()
