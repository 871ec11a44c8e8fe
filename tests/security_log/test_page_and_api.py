"""Company settings > Security log, its exports and ``GET /api/v1/audit-events``: filters,
keyset paging, admins and the ``tokens`` gate only, CSV safe in a spreadsheet; the bulk
revocation's one INSERT, the bearer path's none; retention."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from flask import Flask

from oauth_server.models import AuditEvent
from oauth_server.models import Teammate
from oauth_server.services import security_log
from oauth_server.services import security_log_reading
from oauth_server.settings import security_log as page_module
from tests.conftest import Clock
from tests.conftest import bearer
from tests.conftest import post_form
from tests.conftest import sql_sent
from tests.factories import CompanyUnderTest
from tests.factories import make_grant
from tests.factories import make_personal_token
from tests.factories import make_teammate
from tests.factories import register
from tests.flows import issue
from tests.isolation import IsolatedClient
from tests.isolation import count
from tests.isolation import isolated_client
from tests.security_log.conftest import API_URL
from tests.security_log.conftest import CSV_URL
from tests.security_log.conftest import JSONL_URL
from tests.security_log.conftest import PAGE
from tests.security_log.conftest import events

ROW_ID = re.compile(r'data-event-id="(\d+)"')
DAY = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _ids(client: IsolatedClient, query: str = "") -> list[int]:
    response = client.get(PAGE + query)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return [int(i) for i in ROW_ID.findall(response.get_data(as_text=True))]


@pytest.fixture
def history(clock: Clock, acme: CompanyUnderTest) -> dict[str, AuditEvent]:
    """Events on three days, by two teammates, about a token, a grant and an app: written
    by the services (the event tests drive each door; here only their rows matter)."""
    alice = acme.teammates[0]
    partner = register(name="Acme CRM")
    clock.set(DAY)
    token, _ = make_personal_token(acme.company, "shared", actor=acme.admin, name="A")
    clock.set(DAY + timedelta(days=1))
    grant = make_grant(acme.company, partner, alice, "private")
    security_log.record(
        security_log.EventType.GRANT_CREATED,
        acme.company.id,
        actor=security_log.Actor.of(alice),
        door=security_log.Door.OAUTH,
        grant_id=grant.id,
        client=partner.row.id,
    )
    from oauth_server.extensions import db

    db.session.commit()
    clock.set(DAY + timedelta(days=2))
    from oauth_server.services import revocation

    revocation.revoke(grant, actor=acme.admin, via=revocation.Via.SETTINGS)
    db.session.commit()
    clock.reset()
    assert acme.other_admin is not None and acme.other is not None
    make_personal_token(acme.other, "shared", actor=acme.other_admin)  # another company's
    found = {e.type: e for e in events() if e.company_id == acme.company.id}
    found["token"] = token  # type: ignore[assignment]
    found["partner"] = partner  # type: ignore[assignment]
    return found


# --- the page ----------------------------------------------------------------------------------


def test_the_page_lists_the_companys_events_newest_first(
    admin_client: IsolatedClient, history: dict[str, AuditEvent]
) -> None:
    html = admin_client.get(PAGE).get_data(as_text=True)
    assert "Security log" in html and "Export CSV" in html and "Export JSON Lines" in html
    assert 'href="/settings/security-log"' in admin_client.get("/settings/teammates").get_data(
        as_text=True
    )
    expected = [history[t].id for t in ("grant.revoked", "grant.created", "personal_token.created")]
    assert _ids(admin_client) == expected
    assert "2026-03-03T12:00:00Z" in html  # UTC, ISO 8601
    assert "admin@acme.test" in html and "Acme CRM" in html


@pytest.mark.parametrize(
    ("query", "types"),
    [
        ("?type=grant.created", ["grant.created"]),
        ("?type=grant.created&type=grant.revoked", ["grant.revoked", "grant.created"]),
        ("?token=pt_{token}", ["personal_token.created"]),
        ("?token={token}", ["personal_token.created"]),
        ("?token=gr_{grant}", ["grant.revoked", "grant.created"]),
        ("?app={client_id}", ["grant.revoked", "grant.created"]),
        ("?teammate=alice@acme.test", ["grant.created"]),
        ("?teammate=ALICE@acme.test", ["grant.created"]),
        ("?teammate={admin_id}", ["grant.revoked", "personal_token.created"]),
        ("?since=2026-03-02", ["grant.revoked", "grant.created"]),
        ("?until=2026-03-02", ["grant.created", "personal_token.created"]),  # to its end
        ("?since=2026-03-02T00:00:00Z&until=2026-03-02T23:00:00Z", ["grant.created"]),
        ("?type=&token=&app=&teammate=&since=&until=", None),  # the empty form: everything
    ],
)
def test_the_filters(
    admin_client: IsolatedClient,
    acme: CompanyUnderTest,
    history: dict[str, AuditEvent],
    query: str,
    types: list[str] | None,
) -> None:
    grant_id = history["grant.created"].grant_id
    query = query.format(
        token=history["token"].id,
        grant=grant_id,
        client_id=history["partner"].client_id,  # type: ignore[attr-defined]
        admin_id=acme.admin.id,
    )
    types = types or ["grant.revoked", "grant.created", "personal_token.created"]
    assert _ids(admin_client, query) == [history[t].id for t in types]


@pytest.mark.parametrize(
    "query",
    [
        "?type=token.stolen",
        "?since=yesterday",
        "?until=2026-13-01",
        "?since=2026-03-02&until=2026-03-01",
        "?token=pt_0",
        "?token=abc",
    ],
)
def test_a_bad_filter_is_a_400_naming_it(
    admin_client: IsolatedClient, history: dict[str, AuditEvent], query: str
) -> None:
    response = admin_client.get(PAGE + query)
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)
    assert admin_client.get(CSV_URL + query).status_code == 400


def test_keyset_paging_without_offset(
    admin_client: IsolatedClient,
    history: dict[str, AuditEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(page_module, "PAGE_SIZE", 2)
    with sql_sent() as seen:
        html = admin_client.get(PAGE).get_data(as_text=True)
    first = [int(i) for i in ROW_ID.findall(html)]
    cursor = re.search(r'href="([^"]*before=\d+[^"]*)" rel="next"', html)
    assert cursor and len(first) == 2
    with sql_sent() as seen:
        second = _ids(admin_client, "?" + cursor.group(1).split("?", 1)[1].replace("&amp;", "&"))
    expected = ("grant.revoked", "grant.created", "personal_token.created")
    assert first + second == [history[t].id for t in expected]
    # The next page starts below the cursor (SQLite writes OFFSET 0 after any LIMIT).
    [query] = [(st, p) for st, p in seen if "FROM audit_events" in st]
    assert "audit_events.id < " in query[0]
    assert "OFFSET" not in query[0] or list(query[1])[-1] == 0
    # The filters stay on the next page's link.
    html = admin_client.get(PAGE + "?type=grant.revoked&type=grant.created").get_data(as_text=True)
    assert "type=grant.revoked&amp;type=grant.created" in html


def test_only_admins_open_the_page_and_the_exports(
    signed_in: Callable[[Teammate], IsolatedClient],
    app: Flask,
    acme: CompanyUnderTest,
    history: dict[str, AuditEvent],
) -> None:
    mate = signed_in(acme.teammates[1])
    for url in (PAGE, CSV_URL, JSONL_URL):
        assert mate.get(url).status_code == 403
        assert isolated_client(app).get(url).status_code == 302  # to the sign-in page
    assert "Security log" not in mate.get("/").get_data(as_text=True)


def test_export_csv_of_the_filtered_range(
    admin_client: IsolatedClient, history: dict[str, AuditEvent]
) -> None:
    response = admin_client.get(CSV_URL + "?since=2026-03-02")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="security-log')
    assert response.headers["Cache-Control"] == "no-store"
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["type"] for r in table] == ["grant.revoked", "grant.created"]
    revoked = table[0]
    assert revoked["time"] == "2026-03-03T12:00:00Z"
    assert revoked["actor_kind"] == "teammate" and revoked["actor_email"] == "admin@acme.test"
    assert revoked["door"] == "settings" and revoked["app_name"] == "Acme CRM"
    assert revoked["grant_id"] == f"gr_{history['grant.created'].grant_id}"


def test_export_json_lines(admin_client: IsolatedClient, history: dict[str, AuditEvent]) -> None:
    response = admin_client.get(JSONL_URL + "?type=personal_token.created")
    assert response.status_code == 200 and response.mimetype == "application/jsonl"
    assert response.headers["Content-Disposition"].endswith('.jsonl"')
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(lines) == 1
    assert lines[0]["token_id"] == f"pt_{history['token'].id}"
    assert lines[0]["actor"]["email"] == "admin@acme.test"


def test_csv_cells_never_run_as_formulas(
    admin_client: IsolatedClient, acme: CompanyUnderTest
) -> None:
    """A name an app's developer chose (``=HYPERLINK(...)``) is data in a spreadsheet."""
    evil = register(name='=HYPERLINK("http://evil.example","x")')
    for name in ("+1+2", "-3", "@SUM(A1)"):
        partner = register(name=name)
        make_grant(acme.company, partner, acme.teammates[0], "private")
    make_grant(acme.company, evil, acme.teammates[1], "private")
    post_form(
        admin_client,
        "/settings/plugins-api/api/apps",
        "/settings/plugins-api/api/apps/revoke-all",
        {},
    )
    text = admin_client.get(CSV_URL).get_data(as_text=True)
    names = [r["app_name"] for r in csv.DictReader(io.StringIO(text))]
    assert sorted(names) == sorted(
        ['\'=HYPERLINK("http://evil.example","x")', "'+1+2", "'-3", "'@SUM(A1)"]
    )
    assert page_module.safe_cell("plain") == "plain" and page_module.safe_cell(None) == ""


def test_an_export_streams_every_row_past_one_batch(
    admin_client: IsolatedClient, acme: CompanyUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oauth_server.extensions import db

    for _ in range(7):
        security_log.record(
            security_log.EventType.POLICY_CHANGED,
            acme.company.id,
            actor=security_log.Actor.of(acme.admin),
            door=security_log.Door.POLICY,
        )
    db.session.commit()
    real = security_log_reading.rows_for_export
    monkeypatch.setattr(
        security_log_reading, "rows_for_export", lambda c, f, batch=3: real(c, f, batch=batch)
    )
    response = admin_client.get(JSONL_URL)
    assert response.is_streamed
    assert len(response.get_data(as_text=True).splitlines()) == 7


# --- the API -----------------------------------------------------------------------------------


@pytest.fixture
def auditor(acme: CompanyUnderTest) -> dict[str, str]:
    _, value = make_personal_token(acme.company, "tokens", actor=acme.admin, name="Audit")
    return bearer(value)


def _api(client, headers: dict[str, str], query: str = "") -> list[dict]:
    response = client.get(API_URL + query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["_results"]


def test_the_api_lists_events_with_the_spec_fields(
    client, acme: CompanyUnderTest, history: dict[str, AuditEvent], auditor: dict[str, str]
) -> None:
    items = _api(client, auditor)
    # The auditor's own token is an event too (created just now).
    assert [i["type"] for i in items] == [
        "personal_token.created",
        "grant.revoked",
        "grant.created",
        "personal_token.created",
    ]
    revoked = items[1]
    assert set(revoked) >= {
        "id",
        "time",
        "type",
        "actor",
        "door",
        "token_id",
        "grant_id",
        "app",
        "ip",
    }
    assert revoked["actor"] == {"kind": "teammate", "id": acme.admin.id, "email": "admin@acme.test"}
    assert revoked["app"] == {"client_id": history["partner"].client_id, "name": "Acme CRM"}  # type: ignore[attr-defined]
    assert revoked["time"] == "2026-03-03T12:00:00Z" and revoked["door"] == "settings"
    assert items[-1]["app"] is None and items[-1]["token_id"] == f"pt_{history['token'].id}"


@pytest.mark.parametrize(
    ("query", "types"),
    [
        ("?type=grant.created", ["grant.created"]),
        ("?type=grant.created,grant.revoked", ["grant.revoked", "grant.created"]),
        ("?since=2026-03-02T00:00:00Z&until=2026-03-03T00:00:00Z", ["grant.created"]),
        ("?until=2026-03-02", ["grant.created", "personal_token.created"]),
        ("?teammate=alice@acme.test", ["grant.created"]),
    ],
)
def test_the_api_filters(
    client,
    history: dict[str, AuditEvent],
    auditor: dict[str, str],
    query: str,
    types: list[str],
) -> None:
    assert [i["type"] for i in _api(client, auditor, query)] == types


def test_the_api_pages_with_page_token(
    client, history: dict[str, AuditEvent], auditor: dict[str, str]
) -> None:
    response = client.get(
        API_URL + "?limit=2&type=grant.created,grant.revoked,personal_token.created",
        headers=auditor,
    )
    body = response.get_json()
    assert len(body["_results"]) == 2
    next_url = body["_pagination"]["next"]
    assert "page_token=" in next_url and "type=" in next_url
    rest = client.get(next_url.split("localhost", 1)[-1], headers=auditor).get_json()
    ids = [i["id"] for i in body["_results"] + rest["_results"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4
    assert rest["_pagination"]["next"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?since=last-week", "since"),
        ("?until=2026-02-30", "until"),
        ("?type=grant.stolen", "type"),
        ("?since=2026-03-02&until=2026-03-01", "until"),
        ("?limit=0", "limit"),
        ("?page_token=x", "page_token"),
    ],
)
def test_the_api_refuses_bad_input_with_400(
    client, auditor: dict[str, str], query: str, field: str
) -> None:
    response = client.get(API_URL + query, headers=auditor)
    assert response.status_code == 400
    assert field in json.dumps(response.get_json())


def test_the_api_gate_is_the_inventorys(client, acme: CompanyUnderTest) -> None:
    _, other_scope = make_personal_token(acme.company, "shared", actor=acme.admin)
    assert client.get(API_URL, headers=bearer(other_scope)).status_code == 403
    # A tokens token whose creator is no longer an admin.
    former = make_teammate(acme.company, is_admin=True)
    _, stale = make_personal_token(acme.company, "tokens", actor=former)
    from oauth_server.services import admins

    admins.set_admin(former, False, actor_id=None, via="cli")
    assert client.get(API_URL, headers=bearer(stale)).status_code == 403
    # A partner token.
    token = issue(client, register(), acme.admin.email, "shared")
    assert client.get(API_URL, headers=bearer(token["access_token"])).status_code == 403
    assert client.get(API_URL).status_code == 401


def test_the_api_is_in_the_openapi_document(client) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/audit-events"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"since", "until", "type", "page_token", "limit"} <= names


# --- the statements ------------------------------------------------------------------------------


def test_revoking_many_grants_writes_their_rows_in_one_statement(
    admin_client: IsolatedClient, acme: CompanyUnderTest
) -> None:
    partners = [register(name=f"App {n}") for n in range(8)]
    mates = [make_teammate(acme.company) for _ in range(5)]
    for partner in partners:
        for mate in mates:
            make_grant(acme.company, partner, mate, "private")
    with sql_sent() as seen:
        response = post_form(
            admin_client,
            "/settings/plugins-api/api/apps",
            "/settings/plugins-api/api/apps/revoke-all",
            {},
        )
    assert response.status_code == 302
    inserts = [(s, p) for s, p in seen if s.startswith("INSERT INTO audit_events")]
    assert len(inserts) == 1
    assert count(AuditEvent, AuditEvent.type == "grant.revoked") == 40
    names = {e.client_name for e in events("grant.revoked")}
    assert names == {f"App {n}" for n in range(8)}


def test_the_bearer_path_writes_no_row(client, acme: CompanyUnderTest) -> None:
    _, value = make_personal_token(acme.company, "shared", actor=acme.admin)
    before = count(AuditEvent)
    with sql_sent() as seen:
        assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200
        assert client.get("/api/v1/inboxes", headers=bearer(value)).status_code == 200
    assert not [s for s, _ in seen if "audit_events" in s]
    assert count(AuditEvent) == before


# --- retention -----------------------------------------------------------------------------------


def test_delete_expired_keeps_the_retention_in_batches(
    app: Flask, clock: Clock, acme: CompanyUnderTest
) -> None:
    from oauth_server.extensions import db

    assert app.config["SECURITY_LOG_RETENTION_DAYS"] == 400
    now = datetime(2027, 6, 1, tzinfo=UTC)
    for days in (500, 450, 401, 399, 10):
        clock.set(now - timedelta(days=days))
        security_log.record(
            security_log.EventType.POLICY_CHANGED,
            acme.company.id,
            actor=security_log.SYSTEM,
            door=security_log.Door.SYSTEM,
        )
    db.session.commit()
    with sql_sent() as seen:
        assert security_log.delete_expired(now, batch=2) == 3
    deletes = [s for s, _ in seen if s.startswith("DELETE")]
    assert len(deletes) == 2  # 2 rows, then 1: fewer than a batch, done
    kept = sorted(now - e.time for e in events())
    assert kept == [timedelta(days=10), timedelta(days=399)]
    assert security_log.delete_expired(now, days=100) == 1
    assert security_log.delete_expired(now) == 0
