"""Structured logs: one JSON object a line on stderr, secrets redacted, one line per request.

``configure()`` (``oauth-server serve``) and ``dict_config()`` (the gunicorn settings) send
every logger's records through one handler: ``RequestContext`` adds the request id,
``Redactor`` removes anything that looks like a secret, ``JsonFormatter`` writes the line.
``init_app`` makes the app log each request once, under ``oauth_server.request``.

The stdlib only: a JSON formatter is a few lines, and it keeps the dependency list short.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import logging.config
import os
import re
import secrets
import sys
import time
from typing import IO
from typing import Any

from flask import Flask
from flask import g
from flask import has_request_context
from flask import request
from sqlalchemy import inspect
from werkzeug.wrappers import Response

from oauth_server import tokens

request_log = logging.getLogger("oauth_server.request")

REDACTED = "[redacted]"
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# Keys whose values are never logged, in ``extra`` or in a message's key=value pairs.
SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "new_password",
        "secret",
        "client_secret",
        "secret_key",
        "token_encryption_key",
        "token",
        "access_token",
        "refresh_token",
        "code",
        "code_verifier",
        "authorization",
        "cookie",
        "set-cookie",
        "csrf_token",
        "api_key",
    }
)
_KEYS = "|".join(sorted((re.escape(k) for k in SECRET_KEYS), key=len, reverse=True))
_PATTERNS = (
    # Every token string we hand out starts with its kind's prefix (tokens.Kind).
    (
        re.compile("(" + tokens.PREFIX_PATTERN + ")[0-9A-Za-z]+"),
        r"\1" + REDACTED,
    ),
    # Credentials of an Authorization header: "Basic <base64>", "Bearer <token>" (12
    # characters at least: "basic auth" in a sentence stays).
    (re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{12,}"), r"\1 " + REDACTED),
    # key=value (query strings, form bodies) and "key": "value" (JSON) for secret keys.
    (re.compile(rf"(?i)(?<![\w-])({_KEYS})=[^\s&;,\"']*"), r"\1=" + REDACTED),
    (re.compile(rf"(?i)([\"']({_KEYS})[\"']\s*:\s*)[\"'][^\"']*[\"']"), r'\1"' + REDACTED + '"'),
    # The password of a URL: postgresql://user:password@host/db.
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@"), r"\1" + REDACTED + "@"),
)

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


# Short strings that ``redact`` left as they were. The values of a request line repeat
# (the message, methods, routes, endpoints, client_ids): known clean, they skip the five
# patterns. Only clean strings are kept, never one that held a secret; the set is emptied
# when full, so a stream of distinct strings costs a lookup each, not memory.
_CLEAN: set[str] = set()
_CLEAN_MAX_LENGTH = 256
_CLEAN_MAX_SIZE = 4096
# The request ids we make (``_new_request_id``, 32 hex digits): nothing the patterns match
# fits in them.
_OWN_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def redact(text: str) -> str:
    """``text`` without token strings, credentials and values of secret keys."""
    if text in _CLEAN:
        return text
    redacted = text
    for pattern, replacement in _PATTERNS:
        redacted = pattern.sub(replacement, redacted)
    if redacted == text and len(text) <= _CLEAN_MAX_LENGTH:
        if len(_CLEAN) >= _CLEAN_MAX_SIZE:
            _CLEAN.clear()
        _CLEAN.add(text)
    return redacted


@functools.lru_cache(maxsize=_CLEAN_MAX_SIZE)
def _secret_key(key: str) -> bool:
    """Whether a field name is a secret key, remembered by name: a line's fields repeat."""
    return key.lower() in SECRET_KEYS


def _redact_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if _secret_key(key):
        return REDACTED
    if isinstance(value, str):
        if key == "request_id" and _OWN_REQUEST_ID.fullmatch(value):
            return value
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redact_value("", v) for v in value]
    return value


class Redactor(logging.Filter):
    """Rewrites a record in place: its message, its ``extra`` fields and its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, not the error
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        fields = record.__dict__
        for key in extras(record):
            fields[key] = _redact_value(key, fields[key])
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RequestContext(logging.Filter):
    """Adds the current request's id to every record logged while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            record.request_id = g.get("request_id")
        return True


def extras(record: logging.LogRecord) -> list[str]:
    return [key for key in record.__dict__ if key not in _RECORD_ATTRIBUTES]


# One encoder for every line: ``json.dumps`` with options builds a new one per call.
_encode = json.JSONEncoder(default=str, ensure_ascii=False).encode
# The last second formatted, and its text: a server logs many lines a second.
_second: tuple[int, str] = (0, "")


def timestamp(created: float) -> str:
    """``created`` (a record's epoch seconds) in ISO 8601, UTC, to the millisecond: what
    ``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`` says."""
    global _second
    second, micros = divmod(round(created * 1_000_000), 1_000_000)
    if _second[0] != second:
        _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second[1]}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, then the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in extras(record):
            data.setdefault(key, record.__dict__[key])
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = record.stack_info
        return _encode(data)


def dict_config(level: str = "INFO", *, access_log: bool = False) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` mapping: every logger to stderr as JSON.

    ``access_log`` keeps gunicorn's own access lines (each request is logged by the app
    already, as ``oauth_server.request``).
    """
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "oauth_server.logs.RequestContext"},
            "redact": {"()": "oauth_server.logs.Redactor"},
        },
        "formatters": {"json": {"()": "oauth_server.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["context", "redact"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {
                "level": "INFO" if access_log else "WARNING",
                "handlers": ["stderr"],
                "propagate": False,
            },
            # The development server's access lines carry the query string, and the app
            # logs every request itself.
            "werkzeug": {"level": "WARNING"},
            "alembic": {"level": "WARNING"},  # its plugin list, at every start
        },
    }


def handler(stream: IO[str] | None = None) -> logging.Handler:
    """The JSON handler with its filters, on ``stream`` (stderr by default)."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.addFilter(RequestContext())
    out.addFilter(Redactor())
    out.setFormatter(JsonFormatter())
    return out


def lean_records() -> None:
    """Records without what no line of ours prints: the caller's file and line, the thread
    and process names and ids (the logging HOWTO's "Optimization"). A process that logs
    through ``dict_config`` calls this once; it saves a stack walk a record."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None


def configure(level: str = "INFO") -> None:
    """Send every log record to stderr as JSON (the development server's process)."""
    lean_records()
    logging.config.dictConfig(dict_config(level))


# --- one line per request -------------------------------------------------------------------


def annotate(**fields: Any) -> None:
    """Add ``company_id``, ``client_id`` or ``token_id`` to this request's log line."""
    if has_request_context():
        g.setdefault("log_fields", {}).update(fields)


def _request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER)
    return given if given and _REQUEST_ID.fullmatch(given) else _new_request_id()


# Our request ids: a random prefix of the process, then a counter (32 hex digits). Unique
# across processes and restarts, without a system call for randomness per request; an id
# need not be unguessable, only unique. A forked child draws a prefix of its own.
_prefix = ""
_counter = itertools.count()


def _new_process() -> None:
    global _prefix, _counter
    _prefix, _counter = secrets.token_hex(8), itertools.count()


_new_process()
os.register_at_fork(after_in_child=_new_process)


def _new_request_id() -> str:
    return f"{_prefix}{next(_counter) & 0xFFFFFFFFFFFFFFFF:016x}"


def _loaded(row: Any, attribute: str) -> Any:
    """An attribute already in memory, never a query (a commit expires what a row held)."""
    if row is None:
        return None
    if not hasattr(row, "_sa_instance_state"):
        # Not a mapped row: the API's snapshots (services/principals.py).
        return getattr(row, attribute, None)
    state = inspect(row)
    if attribute in state.dict:
        return state.dict[attribute]
    if attribute == "id" and state.identity:
        return state.identity[0]
    return None


def _who(here: Any) -> dict[str, Any]:
    """Company, app and token of the caller, from what authentication left on ``g``."""
    fields: dict[str, Any] = {"company_id": None, "client_id": None, "token_id": None}
    principal = here.get("principal") or here.get("scim_principal")
    if principal is not None:
        fields["company_id"] = _loaded(principal.company, "id")
        fields["client_id"] = _loaded(principal.app, "client_id")
        fields["token_id"] = principal.token_id
    else:
        # Flask-Login's cache: only a teammate this request loaded anyway.
        fields["company_id"] = _loaded(here.get("_login_user"), "company_id")
    fields.update(here.get("log_fields", {}))
    return fields


def init_app(app: Flask) -> None:
    """Request ids (``X-Request-ID``, accepted or made, always echoed) and the request line.

    Registered before the other extensions: the id and the clock start before any other
    hook can refuse the request (a rate limit answers from a ``before_request`` hook).
    """

    @app.before_request
    def _start() -> None:
        here = g._get_current_object()
        here.request_started = time.perf_counter()
        here.request_id = _request_id()

    @app.after_request
    def _finish(response: Response) -> Response:
        here = g._get_current_object()
        request_id = here.get("request_id") or _request_id()
        response.headers[REQUEST_ID_HEADER] = request_id
        if request_log.isEnabledFor(logging.INFO):
            current = request._get_current_object()  # type: ignore[attr-defined]
            started = here.get("request_started")
            rule = current.url_rule
            fields = {
                "request_id": request_id,
                "method": current.method,
                # The rule, never the raw path or the query string.
                "route": rule.rule if rule else None,
                "endpoint": current.endpoint,
                "status": response.status_code,
                "duration_ms": (
                    round((time.perf_counter() - started) * 1000, 2) if started else None
                ),
                **_who(here),
            }
            # The logger's own steps, without the call site lookups of ``Logger.info``.
            request_log.handle(
                request_log.makeRecord(
                    request_log.name, logging.INFO, __file__, 0, "request", (), None, extra=fields
                )
            )
        return response
