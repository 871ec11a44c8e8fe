"""Structured logs: one JSON line per request, audit lines as JSON with their fields, and
never a token, code, secret or password, whatever the flow."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from flask import Flask

from oauth_server import logs
from oauth_server import tokens
from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.conftest import login
from tests.conftest import post_form
from tests.factories import REDIRECT_URI
from tests.factories import make_admin
from tests.factories import make_company
from tests.flows import authorize_url
from tests.flows import pkce
from tests.isolation import isolated_client

PASSWORD = "correct horse battery staple 42"
WRONG_PASSWORD = "tr0ub4dor and 3 wrong ones"
VALUE_RE = re.compile(r'id="token-value" value="([^"]+)"')
SECRET_RE = re.compile(r"wsp_ocs_[0-9A-Za-z]+")
CLIENT_ID_RE = re.compile(r'<code id="client-id">([^<]+)</code>')


class Raw(logging.Handler):
    """Records as they were logged, before any filter of ours rewrote them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = {key: record.__dict__[key] for key in logs.extras(record)}
        exception = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        self.lines.append((record.levelno, f"{record.getMessage()} {fields!r} {exception}"))

    def text(self, level: int) -> str:
        return "\n".join(line for levelno, line in self.lines if levelno >= level)


@dataclass
class Captured:
    stream: io.StringIO
    raw: Raw
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def requests(self) -> list[dict[str, Any]]:
        return [line for line in self.json_lines if line["logger"] == "oauth_server.request"]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Every logger, at DEBUG, through the production handler (JSON, redacted) and raw."""
    root = logging.getLogger()
    level = root.level
    raw, out = Raw(), logs.handler(io.StringIO())
    root.handlers.insert(0, raw)  # first: it sees each record before the redactor
    root.addHandler(out)
    root.setLevel(logging.DEBUG)
    try:
        yield Captured(out.stream, raw)  # type: ignore[attr-defined]
    finally:
        root.removeHandler(raw)
        root.removeHandler(out)
        root.setLevel(level)


def full_flow(app: Flask, captured: Captured) -> None:
    """Sign-in, a personal token's life, an app's registration and its whole OAuth flow."""
    company = make_company("Logco", plan="scale")
    admin = make_admin(company, email="admin@logco.test", password=PASSWORD)
    found = captured.secrets
    found["password"], found["wrong password"] = PASSWORD, WRONG_PASSWORD

    stranger = isolated_client(app)
    page = stranger.get("/login").get_data(as_text=True)
    refused = stranger.post(
        "/login",
        data={"email": admin.email, "password": WRONG_PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert refused.status_code == 401

    browser = isolated_client(app)
    login(browser, admin.email, PASSWORD)

    # A personal token: created, copied from its page, used, refused in the URL, revoked.
    new_token = "/settings/plugins-api/api/tokens/new"
    created = post_form(
        browser, new_token, new_token, {"name": "CI", "scope": "shared", "expires_in_days": ""}
    )
    assert created.status_code == 302
    listing = browser.get("/settings/plugins-api/api").get_data(as_text=True)
    token_id = re.search(r"/settings/plugins-api/api/tokens/(\d+)", listing).group(1)  # type: ignore[union-attr]
    detail = browser.get(f"/settings/plugins-api/api/tokens/{token_id}").get_data(as_text=True)
    personal = found["personal token"] = VALUE_RE.search(detail).group(1)  # type: ignore[union-attr]
    api = isolated_client(app)
    assert api.get("/api/v1/me", headers=bearer(personal)).status_code == 200
    assert api.get(f"/api/v1/me?access_token={personal}").status_code == 400
    revoked = api.post("/oauth/revoke", data={"token": personal}, headers=bearer(personal))
    assert revoked.status_code == 200
    assert api.get("/api/v1/me", headers=bearer(personal)).status_code == 401

    # A partner app: registered in Developers, its secret shown once.
    registered = post_form(
        browser,
        "/settings/developers/new",
        "/settings/developers/new",
        {"name": "Log App", "redirect_uris": REDIRECT_URI, "client_type": "confidential"},
    ).get_data(as_text=True)
    client_id = CLIENT_ID_RE.search(registered).group(1)  # type: ignore[union-attr]
    secret = found["client secret"] = SECRET_RE.search(registered).group(0)  # type: ignore[union-attr]

    # Consent, code, exchange (secret in the body), use, refresh (Basic), revoke.
    verifier, challenge = pkce()
    found["code verifier"] = verifier
    url = authorize_url(type("P", (), {"client_id": client_id})(), "shared", challenge)
    consent = browser.get(url).get_data(as_text=True)
    answer = browser.post(url, data={"csrf_token": csrf_from(consent), "decision": "allow"})
    code = found["code"] = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    partner = isolated_client(app)
    issued = partner.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": client_id,
            "client_secret": secret,
        },
    ).get_json()
    found["access token"], found["refresh token"] = issued["access_token"], issued["refresh_token"]
    assert partner.get("/api/v1/me", headers=bearer(issued["access_token"])).status_code == 200
    renewed = partner.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
        auth=(client_id, secret),
    ).get_json()
    found["new access token"] = renewed["access_token"]
    found["new refresh token"] = renewed["refresh_token"]
    # A replayed code: refused, and logged as a replay (without the code).
    replay = partner.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(client_id, secret),
    )
    assert replay.status_code == 400
    gone = partner.post(
        "/oauth/revoke", data={"token": renewed["refresh_token"]}, auth=(client_id, secret)
    )
    assert gone.status_code == 200
    found["secret key"] = app.config["SECRET_KEY"]
    found["encryption key"] = app.config["TOKEN_ENCRYPTION_KEY"].split(",")[0]


def test_a_full_flow_logs_no_secret(app: Flask, captured: Captured) -> None:
    full_flow(app, captured)

    text = captured.stream.getvalue()
    assert captured.requests(), "no request lines"
    for name, value in captured.secrets.items():
        assert value not in text, f"the {name} is in the logs"
    # At INFO and above (production's level) nothing logs a secret in the first place...
    for name, value in captured.secrets.items():
        assert value not in captured.raw.text(logging.INFO), f"the {name} was logged"
    # ...but at DEBUG Authlib logs each token it issues: only the redactor keeps them out.
    debug = captured.raw.text(logging.DEBUG)
    assert captured.secrets["access token"] in debug
    issued = [line["message"] for line in captured.json_lines if "Issue token" in line["message"]]
    assert issued and all(logs.REDACTED in message for message in issued)


def test_one_json_line_per_request_with_who_and_how_long(app: Flask, captured: Captured) -> None:
    full_flow(app, captured)

    lines = captured.requests()
    by_route = {(line["method"], line["route"]): line for line in lines}
    me = [line for line in lines if line["route"] == "/api/v1/me" and line["status"] == 200]
    personal, oauth = me[0], me[1]
    assert personal["company_id"] and personal["token_id"] and personal["client_id"] is None
    assert oauth["client_id"].startswith("wsp_app_") and oauth["token_id"]
    assert oauth["company_id"] == personal["company_id"]
    for line in lines:
        assert set(line) >= {
            "time",
            "level",
            "request_id",
            "method",
            "route",
            "endpoint",
            "status",
            "duration_ms",
            "company_id",
            "client_id",
            "token_id",
        }
        assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
        assert line["duration_ms"] >= 0
    # The rule, never the path: ids and query strings stay out of the route.
    assert ("GET", "/settings/plugins-api/api/tokens/<token_id>") in by_route
    assert not any("?" in (line["route"] or "") for line in lines)
    token_lines = [line for line in lines if line["route"] == "/oauth/token"]
    assert all(line["client_id"] for line in token_lines)
    issued = [line for line in token_lines if line["status"] == 200]
    assert all(line["company_id"] and line["token_id"] for line in issued)
    signed_in = [line for line in lines if line["route"] == "/login" and line["status"] == 302]
    assert signed_in[0]["company_id"] == personal["company_id"]


def test_audit_lines_are_json_with_their_fields_and_request_id(
    app: Flask, captured: Captured
) -> None:
    full_flow(app, captured)

    audit = [line for line in captured.json_lines if line["logger"] == "oauth_server.audit"]
    messages = {line["message"] for line in audit}
    assert {"signed in", "token revoked", "authorization code replayed"} <= messages
    revoked = next(line for line in audit if line["message"] == "token revoked")
    assert {"token_kind", "token_id", "company_id", "via"} <= set(revoked)
    request_ids = {line["request_id"] for line in captured.requests()}
    assert all(line["request_id"] in request_ids for line in audit)


def test_the_request_id_is_taken_or_made_and_echoed(client: Any) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.9:1"})
    made = client.get("/healthz")
    unsafe = client.get("/healthz", headers={"X-Request-ID": "x" * 200})

    assert given.headers["X-Request-ID"] == "lb-7f3a.9:1"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["X-Request-ID"])


@pytest.mark.parametrize(
    ("message", "secret", "kept"),
    [
        ("issued %s", tokens.generate(tokens.Kind.ACCESS), "issued wsp_oat_[redacted]"),
        ("GET /cb?code=%s&state=x", "wsp_oac_abc", "code=[redacted]&state=x"),
        ("GET /cb?code=%s&state=x", "plain-code-value", "code=[redacted]&state=x"),
        ("Authorization: Basic %s", "d3NwX2FwcF94OnNlY3JldA==", "Basic [redacted]"),
        ("Authorization: Bearer %s", "opaque-partner-token", "Bearer [redacted]"),
        ("password=%s&email=a@b.test", "hunter2hunter2", "&email=a@b.test"),
        ('{"client_secret": "%s"}', "s3cr3t-value", '"client_secret": "[redacted]"'),
        ("postgresql://app:%s@db:5432/x", "db-pass-123", "postgresql://app:[redacted]@db"),
    ],
)
def test_the_redactor_removes_what_looks_like_a_secret(
    message: str, secret: str, kept: str
) -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, message, (secret,), None)
    logs.Redactor().filter(record)

    assert secret not in record.getMessage()
    assert kept in record.getMessage()


def test_the_redactor_blanks_secret_fields_and_tracebacks() -> None:
    token = tokens.generate(tokens.Kind.PERSONAL)
    try:
        raise ValueError(f"bad token {token}")
    except ValueError as error:
        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "failed", None, (type(error), error, None)
        )
    record.password = "hunter2hunter2"
    record.form = {"email": "a@b.test", "client_secret": "s3cr3t-value", "note": token}
    record.token_id = 7
    logs.Redactor().filter(record)

    line = json.loads(logs.JsonFormatter().format(record))
    assert line["password"] == logs.REDACTED
    assert line["form"] == {
        "email": "a@b.test",
        "client_secret": logs.REDACTED,
        "note": "wsp_pat_" + logs.REDACTED,
    }
    assert line["token_id"] == 7
    assert token not in line["exception"] and "ValueError" in line["exception"]


def test_the_redactor_redacts_a_secret_every_time_it_is_logged() -> None:
    """Clean strings are remembered (a fast path); a string holding a secret never is."""
    token = tokens.generate(tokens.Kind.ACCESS)
    clean = "GET /api/v1/me"
    for _ in range(3):
        assert logs.redact(f"token {token}") == "token wsp_oat_" + logs.REDACTED
        assert logs.redact(clean) == clean
    # A client's own request id is redacted like any value; ours (32 hex digits) is kept.
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "request", None, None)
    record.request_id = token
    logs.Redactor().filter(record)
    assert token not in record.request_id


@pytest.mark.parametrize(
    "created",
    [0.0, 1_764_900_000.0, 1_764_900_000.0004, 1_764_900_000.9994, 1_764_900_000.9999996, 1.5e9],
)
def test_a_lines_time_is_the_records_time_in_utc_to_the_millisecond(created: float) -> None:
    from datetime import UTC
    from datetime import datetime

    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert logs.timestamp(created) == expected
    assert logs.timestamp(created) == expected  # the second from the cache, the same


def test_request_ids_made_in_forked_workers_differ() -> None:
    import os

    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # a gunicorn worker, forked from the master
        os.write(writer, logs._new_request_id().encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    child = os.read(reader, 64).decode()
    os.close(reader)
    ours = {logs._new_request_id() for _ in range(1000)}
    assert len(ours) == 1000
    assert child not in ours
    assert child[:16] != next(iter(ours))[:16]  # each process draws a prefix of its own
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ours | {child})
