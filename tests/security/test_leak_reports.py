"""Leaked token reports: GitHub's signed secret-scanning call and the public report form
revoke each kind of token through the one revocation service, log it and tell the admins."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from oauth_server import jobs
from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models import AuditEvent
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.services import revocation
from tests.conftest import sql_sent
from tests.factories import CompanyUnderTest
from tests.factories import make_admin
from tests.factories import make_personal_token
from tests.isolation import isolated_client
from tests.isolation import rows
from tests.mailbox import SmtpServer
from tests.security.conftest import KEY_ID
from tests.security.conftest import REPORT_URL
from tests.security.conftest import SCANNING_URL
from tests.security.conftest import Signer
from tests.security.conftest import app_and_pair
from tests.security.conftest import mangled
from tests.security.conftest import report_body
from tests.security.conftest import write_key_file

FOUND_AT = "https://github.com/octo/repo/blob/main/deploy.env"
TRUE, FALSE = "true_positive", "false_positive"


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _post_signed(app: Flask, signer: Signer, body: bytes) -> Any:
    return isolated_client(app).post(SCANNING_URL, data=body, headers=signer.headers(body))


@pytest.fixture
def leaky(company_under_test: CompanyUnderTest) -> dict[str, Any]:
    """A personal token, and a partner pair (access and refresh) of Alice's, of Acme."""
    personal, value = make_personal_token(company_under_test.company, name="Deploy bot")
    _, pair = app_and_pair(company_under_test.teammates[0])
    return {"personal": personal, "personal_value": value, "pair": pair}


def _personal(leaky: dict[str, Any]) -> PersonalToken:
    return rows(PersonalToken, PersonalToken.id == leaky["personal"].id)[0]


def _pair(leaky: dict[str, Any]) -> OAuthToken:
    return rows(OAuthToken, OAuthToken.id == leaky["pair"].row.id)[0]


def _grant(leaky: dict[str, Any]) -> OAuthGrant:
    return rows(OAuthGrant, OAuthGrant.id == leaky["pair"].row.grant_id)[0]


def test_a_signed_report_revokes_a_token_of_each_kind_and_labels_each(
    app: Flask, signer: Signer, leaky: dict[str, Any]
) -> None:
    pair = leaky["pair"]
    unknown = tokens.generate(tokens.Kind.PERSONAL)  # well formed, never issued
    reported = [
        leaky["personal_value"],
        pair.access,
        unknown,
        mangled(pair.refresh),
        "ghp_notoneofours",
    ]
    response = _post_signed(app, signer, report_body(*reported, url=FOUND_AT))

    assert response.status_code == 200
    assert response.get_json() == [
        {"token_hash": _sha(value), "token_type": "workspace_token", "label": label}
        for value, label in zip(
            reported,
            [
                "true_positive",
                "true_positive",
                "false_positive",
                "false_positive",
                "false_positive",
            ],
            strict=True,
        )
    ]
    personal = _personal(leaky)
    assert personal.revoked_at is not None
    assert personal.revoked_via == revocation.Via.LEAK_REPORT
    stored = _pair(leaky)
    assert stored.access_revoked_at is not None  # the access token only
    assert stored.revoked_at is None and _grant(leaky).revoked_at is None

    # The refresh token takes its whole grant.
    response = _post_signed(app, signer, report_body(pair.refresh))
    assert response.get_json()[0]["label"] == "true_positive"
    grant = _grant(leaky)
    assert grant.revoked_at is not None and grant.revoked_via == revocation.Via.LEAK_REPORT
    assert _pair(leaky).revoked_at is not None


def test_a_known_token_revoked_already_is_still_a_true_positive(
    app: Flask, signer: Signer, leaky: dict[str, Any]
) -> None:
    body = report_body(leaky["personal_value"])
    assert _post_signed(app, signer, body).get_json()[0]["label"] == "true_positive"
    logged = len(rows(AuditEvent))

    again = _post_signed(app, signer, body)

    assert again.get_json()[0]["label"] == "true_positive"
    assert len(rows(AuditEvent)) == logged  # nothing new to record or to tell


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no signature"),
        pytest.param({"Github-Public-Key-Identifier": KEY_ID}, id="no signature header"),
        pytest.param({"Github-Public-Key-Signature": "MEUCIQ=="}, id="no key identifier"),
        pytest.param("other key", id="signed by another key"),
        pytest.param("unknown key id", id="unknown key identifier"),
        pytest.param("body changed", id="body changed after signing"),
        pytest.param("not base64", id="signature not base64"),
    ],
)
def test_a_bad_or_missing_signature_is_401_and_revokes_nothing(
    app: Flask, signer: Signer, leaky: dict[str, Any], headers: Any
) -> None:
    body = report_body(leaky["personal_value"], leaky["pair"].access, leaky["pair"].refresh)
    sent = body
    if headers == "other key":
        headers = Signer(ec.generate_private_key(ec.SECP256R1())).headers(body)
    elif headers == "unknown key id":
        headers = Signer(signer.key, key_id="some-other-key").headers(body)
    elif headers == "body changed":
        headers = signer.headers(body)
        sent = body.replace(b"content", b"commit!")
    elif headers == "not base64":
        headers = {**signer.headers(body), "Github-Public-Key-Signature": "%%%not base64%%%"}

    response = isolated_client(app).post(SCANNING_URL, data=sent, headers=headers)

    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid_signature"}
    assert _personal(leaky).revoked_at is None
    stored = _pair(leaky)
    assert stored.access_revoked_at is None and stored.revoked_at is None
    assert rows(AuditEvent, AuditEvent.type == "token.leak_reported") == []


def test_without_a_key_file_every_report_is_refused(
    app: Flask, signer: Signer, leaky: dict[str, Any]
) -> None:
    app.config["SECRET_SCANNING_PUBLIC_KEYS"] = None
    assert _post_signed(app, signer, report_body(leaky["personal_value"])).status_code == 401
    app.config["SECRET_SCANNING_PUBLIC_KEYS"] = "/nonexistent/keys.json"
    assert _post_signed(app, signer, report_body(leaky["personal_value"])).status_code == 401
    assert _personal(leaky).revoked_at is None


def test_a_key_added_to_the_file_is_used_without_a_restart(
    app: Flask, signer: Signer, leaky: dict[str, Any], tmp_path: Path
) -> None:
    rotated = Signer(ec.generate_private_key(ec.SECP256R1()), key_id="rotated-key")
    body = report_body(leaky["personal_value"])
    assert _post_signed(app, rotated, body).status_code == 401

    # A new file with both keys (its size differs, whatever the clock's resolution).
    write_key_file(Path(app.config["SECRET_SCANNING_PUBLIC_KEYS"]), {
        KEY_ID: signer.key, "rotated-key": rotated.key
    })  # fmt: skip

    assert _post_signed(app, rotated, body).status_code == 200
    assert _personal(leaky).revoked_at is not None


def test_strings_with_a_wrong_checksum_are_false_positives_without_any_sql(
    app: Flask, signer: Signer, leaky: dict[str, Any]
) -> None:
    pair = leaky["pair"]
    reported = [
        mangled(leaky["personal_value"]),
        mangled(pair.access),
        mangled(pair.refresh),
        leaky["personal_value"][:-1],  # one character short
        "wsp_pat_" + "x" * 200,  # too long
        "",
    ]
    body = report_body(*reported)
    headers = signer.headers(body)
    client = isolated_client(app)

    with sql_sent() as sent:
        response = client.post(SCANNING_URL, data=body, headers=headers)

    assert response.status_code == 200
    assert [item["label"] for item in response.get_json()] == ["false_positive"] * len(reported)
    assert sent == []
    with sql_sent() as sent:
        accepted = client.post(REPORT_URL, json={"credentials": reported})
    assert accepted.status_code == 202
    assert sent == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not JSON"),
        pytest.param(b'{"token": "x"}', id="an object, not a list"),
        pytest.param(b'[{"type": "x"}]', id="an item without a token"),
        pytest.param(b'[{"token": 12}]', id="a token that is not a string"),
        pytest.param(b'[{"token": "x", "url": 12}]', id="a url that is not a string"),
        pytest.param(json.dumps([{"token": "x"}] * 1001).encode(), id="over 1,000 items"),
    ],
)
def test_a_signed_report_of_the_wrong_shape_is_400(app: Flask, signer: Signer, body: bytes) -> None:
    response = _post_signed(app, signer, body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_1000_items_are_accepted(app: Flask, signer: Signer, leaky: dict[str, Any]) -> None:
    values = [leaky["personal_value"]] + ["wsp_pat_nope"] * 999
    response = _post_signed(app, signer, report_body(*values))
    assert response.status_code == 200
    assert len(response.get_json()) == 1000
    assert _personal(leaky).revoked_at is not None


def test_the_security_log_records_where_each_token_was_found(
    app: Flask, signer: Signer, leaky: dict[str, Any], company_under_test: CompanyUnderTest
) -> None:
    pair = leaky["pair"]
    body = report_body(leaky["personal_value"], pair.refresh, url=FOUND_AT)
    _post_signed(app, signer, body)

    company_id = company_under_test.company.id
    events = rows(AuditEvent, AuditEvent.company_id == company_id, AuditEvent.door == "leak_report")
    by_type = {(e.type, e.token_id, e.grant_id): e for e in events}
    assert set(by_type) == {
        ("token.leak_reported", leaky["personal"].id, None),
        ("personal_token.revoked", leaky["personal"].id, None),
        ("token.leak_reported", None, pair.row.grant_id),
        ("grant.revoked", None, pair.row.grant_id),
    }
    reported = [e for e in events if e.type == "token.leak_reported"]
    for event in reported:
        assert event.actor_kind == "system"
        assert event.details["url"] == FOUND_AT
        assert event.details["source"] == "content"
    assert {e.details["kind"] for e in reported} == {"personal", "oauth"}
    assert next(e for e in reported if e.grant_id).client_name == "Leaky App"
    stored = json.dumps([e.details for e in events])
    for value in (leaky["personal_value"], pair.access, pair.refresh):
        assert value not in stored and _sha(value) not in stored


def test_a_url_quoting_the_token_is_stored_without_it(
    app: Flask, signer: Signer, leaky: dict[str, Any]
) -> None:
    value = leaky["personal_value"]
    _post_signed(app, signer, report_body(value, url=f"https://gist.example/raw?t={value}"))
    event = rows(AuditEvent, AuditEvent.type == "token.leak_reported")[0]
    assert event.details["url"] == "https://gist.example/raw?t=[redacted]"


def test_the_admins_get_an_email_naming_each_token_and_where_it_was_found(
    app: Flask,
    signer: Signer,
    leaky: dict[str, Any],
    company_under_test: CompanyUnderTest,
    job_queue: dict[str, Any],
    smtp_server: SmtpServer,
) -> None:
    app.config.update(smtp_server.config(), MAIL_DEFAULT_SENDER="Workspace <no-reply@ws.test>")
    company = company_under_test.company
    second = make_admin(company, email="second-admin@acme.test")
    gone = make_admin(company, email="gone-admin@acme.test")
    gone.active = False
    db.session.commit()
    pair = leaky["pair"]
    body = report_body(leaky["personal_value"], pair.access, url=FOUND_AT)

    assert _post_signed(app, signer, body).status_code == 200
    assert smtp_server.mailbox.received == []  # queued for the worker
    jobs.run_pending()

    received = smtp_server.mailbox.wait_for(2)
    assert sorted(r.recipients[0] for r in received) == sorted(
        [company_under_test.admin.email, second.email]
    )
    for message in received:
        assert message.subject == f"2 leaked tokens of {company.name} revoked"
        text, html = message.part("text/plain"), message.part("text/html")
        for part in (text, html):
            assert "Deploy bot" in part and f"pt_{leaky['personal'].id}" in part
            assert "Leaky App" in part and "alice@acme.test" in part
            assert FOUND_AT in part and "content" in part
            assert "/settings/security-log" in part
        raw = message.message.as_string()
        for value in (leaky["personal_value"], pair.access, pair.refresh):
            assert value not in raw and value[8:] not in raw and _sha(value) not in raw


def test_a_token_of_another_company_tells_that_companys_admins_only(
    app: Flask,
    signer: Signer,
    company_under_test: CompanyUnderTest,
    job_queue: dict[str, Any],
    smtp_server: SmtpServer,
) -> None:
    app.config.update(smtp_server.config())
    other = company_under_test.other
    assert other is not None and company_under_test.other_admin is not None
    _, value = make_personal_token(other, name="Other bot")

    _post_signed(app, signer, report_body(value))
    jobs.run_pending()

    received = smtp_server.mailbox.wait_for(1)
    assert [r.recipients[0] for r in received] == [company_under_test.other_admin.email]
    assert "Other bot" in received[0].part("text/plain")


# --- the public report form ------------------------------------------------------------------


def test_report_leaked_always_answers_202_with_the_same_body(
    app: Flask, leaky: dict[str, Any]
) -> None:
    client = isolated_client(app)
    pair = leaky["pair"]
    answers = [
        client.post(REPORT_URL, json={"credentials": credentials})
        for credentials in (
            [leaky["personal_value"]],  # live: revoked
            [leaky["personal_value"]],  # revoked already
            [tokens.generate(tokens.Kind.ACCESS)],  # well formed, unknown
            [mangled(pair.access)],  # wrong checksum
            ["hello"],
            [],
        )
    ]

    assert {a.status_code for a in answers} == {202}
    assert len({a.get_data() for a in answers}) == 1
    assert len({tuple(sorted(a.headers.keys())) for a in answers}) == 1
    personal = _personal(leaky)
    assert personal.revoked_at is not None and personal.revoked_via == "leak_report"
    event = rows(AuditEvent, AuditEvent.type == "token.leak_reported")[0]
    assert event.details == {"kind": "personal", "url": None, "source": "report"}
    assert client.post(REPORT_URL, json={"credentials": [pair.refresh]}).status_code == 202
    assert _grant(leaky).revoked_at is not None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"credentials": ["x"] * 1001}, id="over 1,000"),
        pytest.param({"credentials": "wsp_pat_x"}, id="not a list"),
        pytest.param({"credentials": [12]}, id="not a string"),
        pytest.param({"credentials": ["x" * 1001]}, id="too long"),
        pytest.param(["wsp_pat_x"], id="a list, not an object"),
    ],
)
def test_report_leaked_refuses_a_body_of_the_wrong_shape(app: Flask, body: Any) -> None:
    response = isolated_client(app).post(REPORT_URL, json=body)
    assert response.status_code == 400
    assert response.is_json


def test_report_leaked_takes_1000_credentials(app: Flask, leaky: dict[str, Any]) -> None:
    credentials = ["nope"] * 999 + [leaky["pair"].access]
    response = isolated_client(app).post(REPORT_URL, json={"credentials": credentials})
    assert response.status_code == 202
    assert _pair(leaky).access_revoked_at is not None


def test_report_leaked_is_rate_limited_per_address(app: Flask) -> None:
    app.config["RATELIMIT_LEAK_REPORT"] = "2 per minute"
    client = isolated_client(app)
    sent = [
        client.post(REPORT_URL, json={"credentials": ["x"]}, environ_base={"REMOTE_ADDR": addr})
        for addr in ("10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2")
    ]
    assert [r.status_code for r in sent] == [202, 202, 429, 202]
    assert sent[2].is_json and "Retry-After" in sent[2].headers


def test_the_endpoints_need_no_csrf_token_nor_session(app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    response = isolated_client(app).post(REPORT_URL, json={"credentials": []})
    assert response.status_code == 202
    assert "Set-Cookie" not in response.headers


def test_an_access_token_of_a_revoked_grant_is_a_true_positive_with_nothing_to_tell(
    app: Flask, signer: Signer, leaky: dict[str, Any]
) -> None:
    pair = leaky["pair"]
    revocation.revoke(pair.row.grant, actor=None, via=revocation.Via.SETTINGS)
    db.session.commit()

    response = _post_signed(app, signer, report_body(pair.access))

    assert response.get_json()[0]["label"] == "true_positive"
    assert rows(AuditEvent, AuditEvent.type == "token.leak_reported") == []
