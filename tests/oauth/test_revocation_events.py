"""Revocation events (services/events.py): every door that ends a grant sends one signed
event to an app with an event URL; delivery, retries, the Developers page, the CLI.

Events are delivered to a real HTTP receiver on 127.0.0.1 (a thread of this process) by
the jobs run in this process (``jobs.run_pending``), and verified with the
``standardwebhooks`` library as a partner would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks import WebhookVerificationError

from oauth_server import jobs
from oauth_server.extensions import db
from oauth_server.models import DeliveryStatus
from oauth_server.models import EventDelivery
from oauth_server.models import Job
from oauth_server.models import JobState
from oauth_server.models import OAuthGrant
from oauth_server.models import Teammate
from oauth_server.services import app_policy
from oauth_server.services import clients
from oauth_server.services import events
from oauth_server.services import revocation
from oauth_server.services import teammates
from tests.conftest import login
from tests.conftest import post_form
from tests.conftest import sql_sent
from tests.factories import Partner
from tests.factories import make_teammate
from tests.factories import register
from tests.flows import basic
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import issue
from tests.flows import refresh


class Receiver:
    """An event endpoint on 127.0.0.1: records what it gets, answers ``status``."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append({"headers": dict(self.headers.items()), "body": body})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.received]


@pytest.fixture
def receiver(app: Flask, job_queue: dict[str, Any]) -> Iterator[Receiver]:
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = True
    running = Receiver()
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.fixture
def listening(partner: Partner, receiver: Receiver) -> str:
    """The partner app listens at the receiver; its signing secret."""
    secret = events.set_events_url(partner.row, receiver.url, actor=None)
    assert secret is not None and secret.startswith("whsec_")
    return secret


def deliveries() -> list[EventDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(EventDelivery).order_by(EventDelivery.created_at)))


def grant_of(teammate: Teammate) -> OAuthGrant:
    return db.session.scalars(
        select(OAuthGrant).where(OAuthGrant.teammate_id == teammate.id).order_by(OAuthGrant.id)
    ).all()[-1]


# --- every door ---------------------------------------------------------------------------------


def _settings(client: Any, workspace: Any, partner: Partner, token: dict[str, Any]) -> None:
    revocation.revoke(
        grant_of(workspace.teammate), actor=workspace.admin, via=revocation.Via.SETTINGS
    )
    db.session.commit()


def _rfc7009(client: Any, workspace: Any, partner: Partner, token: dict[str, Any]) -> None:
    response = client.post(
        "/oauth/revoke",
        data={"token": token["refresh_token"], "token_type_hint": "refresh_token"},
        headers=basic(partner.client_id, partner.client_secret),
    )
    assert response.status_code == 200


def _refresh_reuse(client: Any, workspace: Any, partner: Partner, token: dict[str, Any]) -> None:
    assert refresh(client, partner, token["refresh_token"]).status_code == 200
    assert refresh(client, partner, token["refresh_token"]).status_code == 400


def _block_app(client: Any, workspace: Any, partner: Partner, token: dict[str, Any]) -> None:
    app_policy.block_app(workspace.company, partner.row.id, actor=workspace.admin)


def _teammate_deleted(client: Any, workspace: Any, partner: Partner, token: dict[str, Any]) -> None:
    teammates.delete_teammate(db.session.get_one(Teammate, workspace.teammate.id))


DOORS = {
    "settings": _settings,
    "rfc7009": _rfc7009,
    "refresh_reuse": _refresh_reuse,
    "app_blocked": _block_app,
    "scim": _teammate_deleted,
}


@pytest.mark.parametrize("door", DOORS)
def test_each_door_sends_one_signed_grant_revoked_event(
    client: Any, workspace: Any, partner: Partner, listening: str, receiver: Receiver, door: str
) -> None:
    token = issue(client, partner, workspace.teammate.email, "private")
    grant = grant_of(workspace.teammate)
    grant_id, teammate_id = grant.id, workspace.teammate.id
    DOORS[door](client, workspace, partner, token)
    assert jobs.run_pending() >= 1
    assert len(receiver.received) == 1
    sent = receiver.received[0]
    body = Webhook(listening).verify(sent["body"], sent["headers"])
    assert body["type"] == "grant.revoked"
    assert body["reason"] == door
    assert (body["grant_id"], body["teammate_id"]) == (grant_id, teammate_id)
    assert body["company_id"] == workspace.company.id and body["revoked_at"]
    assert sent["headers"]["webhook-id"] == body["id"] and body["id"].startswith("msg_")
    text = sent["body"].decode()
    assert token["access_token"] not in text and token["refresh_token"] not in text
    [row] = deliveries()
    assert (row.status, row.attempts, row.last_status) == ("delivered", 1, 204)


def test_code_replay_sends_grant_revoked(
    client: Any, workspace: Any, partner: Partner, listening: str, receiver: Receiver
) -> None:
    code, verifier = get_code(client, partner, workspace.teammate.email, "private")
    assert exchange(client, partner, code, verifier).status_code == 200
    assert exchange(client, partner, code, verifier).status_code == 400
    jobs.run_pending()
    assert [(b["type"], b["reason"]) for b in receiver.bodies()] == [
        ("grant.revoked", "code_replay")
    ]


def test_deactivation_suspends_and_reactivation_restores(
    client: Any, workspace: Any, partner: Partner, listening: str, receiver: Receiver
) -> None:
    issue(client, partner, workspace.teammate.email, "private")
    teammate = db.session.get_one(Teammate, workspace.teammate.id)
    teammates.update_identity(teammate, active=False)
    teammates.update_identity(teammate, active=True)
    jobs.run_pending()
    bodies = receiver.bodies()
    assert [(b["type"], b["reason"], b["revoked_at"]) for b in bodies] == [
        ("grant.suspended", "scim", None),
        ("grant.restored", "scim", None),
    ]
    assert {b["grant_id"] for b in bodies} == {grant_of(teammate).id}


def test_an_app_without_event_url_gets_nothing_and_other_apps_nothing(
    client: Any, workspace: Any, partner: Partner, listening: str, receiver: Receiver
) -> None:
    quiet = register(name="Quiet App")
    issue(client, quiet, workspace.teammate.email, "private")
    revocation.revoke_all_for(quiet.row, actor=None, via=revocation.Via.SETTINGS)
    db.session.commit()
    jobs.run_pending()
    assert receiver.received == [] and deliveries() == []


# --- delivery -----------------------------------------------------------------------------------


def test_retry_schedule_first_within_a_minute_and_at_least_a_day(app: Flask) -> None:
    delays = []
    attempts = 1
    while (delay := events.retry_delay(attempts)) is not None:
        delays.append(delay)
        attempts += 1
    assert delays[0] <= 60
    assert all(b >= a for a, b in zip(delays, delays[1:], strict=False))
    assert sum(delays) >= 24 * 3600
    assert max(delays) <= events.MAX_DELAY
    assert delays[:4] == [30, 60, 120, 240]


def test_5xx_and_no_answer_are_retried_under_the_same_id_then_failed(
    app: Flask, client: Any, workspace: Any, partner: Partner, listening: str, receiver: Receiver
) -> None:
    app.config.update(EVENTS_RETRY_FIRST_SECONDS=0.01, EVENTS_RETRY_WINDOW_SECONDS=0.02)
    receiver.status = 503
    issue(client, partner, workspace.teammate.email, "private")
    _settings(client, workspace, partner, {})
    jobs.run_pending()
    [row] = deliveries()
    assert (row.status, row.attempts, row.last_status) == ("pending", 1, 503)
    assert row.next_try_at is not None
    job = db.session.scalars(select(Job).where(Job.kind == events.KIND)).one()
    assert job.state == JobState.RETRYING
    for _ in range(3):  # the retries Huey holds in its schedule, run here
        time.sleep(1.1)
        from oauth_server.jobs import runner

        try:
            runner.run(job.id)
        except Exception:  # noqa: BLE001  (RetryTask: the next try is scheduled)
            pass
    row = deliveries()[0]
    assert row.status == "failed" and row.attempts == 3
    ids = {r["headers"]["webhook-id"] for r in receiver.received}
    assert ids == {row.id} and len(receiver.received) == 3


def test_a_4xx_fails_at_once_and_redeliver_sends_it_again(
    client: Any, workspace: Any, partner: Partner, listening: str, receiver: Receiver
) -> None:
    receiver.status = 400
    issue(client, partner, workspace.teammate.email, "private")
    _settings(client, workspace, partner, {})
    jobs.run_pending()
    [row] = deliveries()
    assert (row.status, row.attempts) == ("failed", 1)
    receiver.status = 200
    events.redeliver(partner.row, row.id)
    jobs.run_pending()
    [row] = deliveries()
    assert (row.status, row.attempts, row.last_status) == ("delivered", 2, 200)
    assert [r["headers"]["webhook-id"] for r in receiver.received] == [row.id, row.id]


def test_deleted_app_drops_its_pending_deliveries(
    client: Any, workspace: Any, partner: Partner, listening: str, receiver: Receiver
) -> None:
    issue(client, partner, workspace.teammate.email, "private")
    _settings(client, workspace, partner, {})  # queued, not run yet
    clients.delete_client(partner.row, actor=None, via=revocation.Via.SETTINGS)
    jobs.run_pending()
    assert receiver.received == []
    assert [r.status for r in deliveries()] == [DeliveryStatus.DROPPED]


def test_rotation_signs_with_both_secrets_during_the_overlap(
    clock: Any, client: Any, workspace: Any, partner: Partner, listening: str, receiver: Receiver
) -> None:
    new = events.rotate_secret(partner.row, overlap_hours=24, actor=None)
    issue(client, partner, workspace.teammate.email, "private")
    _settings(client, workspace, partner, {})
    jobs.run_pending()
    sent = receiver.received[-1]
    assert len(sent["headers"]["webhook-signature"].split(" ")) == 2
    for secret in (listening, new):
        Webhook(secret).verify(sent["body"], sent["headers"])
    clock.advance(25 * 3600)
    signing = events.signing_secrets(partner.row)
    assert signing == [new]


def test_a_bad_signature_fails_verification(
    client: Any, workspace: Any, partner: Partner, listening: str, receiver: Receiver
) -> None:
    issue(client, partner, workspace.teammate.email, "private")
    _settings(client, workspace, partner, {})
    jobs.run_pending()
    sent = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(events.new_secret()).verify(sent["body"], sent["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(listening).verify(sent["body"] + b" ", sent["headers"])


def test_event_urls_https_or_loopback_in_development(app: Flask) -> None:
    assert (
        events.check_events_url("https://partner.example/hooks") == "https://partner.example/hooks"
    )
    assert events.check_events_url("") is None
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = False
    for bad in (
        "http://127.0.0.1:5001/events",
        "http://partner.example/",
        "ftp://x/",
        "https://u:p@x/",
    ):
        with pytest.raises(Exception, match="event URL"):
            events.check_events_url(bad)
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = True
    assert events.check_events_url("http://127.0.0.1:5001/events")
    with pytest.raises(Exception, match="event URL"):
        events.check_events_url("http://partner.example/")


# --- bulk ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_events", [False, True], ids=["no event url", "event url"])
def test_blocking_an_app_with_1000_grants_enqueues_1000_events_in_a_few_statements(
    request: pytest.FixtureRequest, workspace: Any, partner: Partner, capsys: Any, with_events: bool
) -> None:
    if with_events:
        request.getfixturevalue("listening")
    company = workspace.company
    people = [make_teammate(company, email=f"bulk{i}@partnerco.test") for i in range(1000)]
    db.session.add_all(
        OAuthGrant(
            company_id=company.id, client_pk=partner.row.id, teammate_id=p.id, scope="shared"
        )
        for p in people
    )
    db.session.commit()
    with sql_sent() as sent:
        started = time.perf_counter()
        _, revoked = app_policy.block_app(company, partner.row.id, actor=workspace.admin)
        elapsed = time.perf_counter() - started
    statements = [statement for statement, _ in sent]
    assert revoked == 1000
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    with capsys.disabled():
        print(
            f"\n[bulk] Block app, 1000 grants, {request.node.callspec.id}: "
            f"{elapsed * 1000:.0f} ms, {len(statements)} statements ({len(inserts)} INSERT)"
        )
    # Bounded whatever the count (PostgreSQL batches a multi-row INSERT by 1000 rows).
    assert len(statements) <= 25
    n = db.session.scalar(select(func.count()).select_from(EventDelivery))
    assert n == (1000 if with_events else 0)
    assert db.session.scalar(select(func.count()).select_from(Job)) == n


# --- the Developers page and the CLI ------------------------------------------------------------


def test_developers_page_sets_the_url_shows_the_secret_once_and_lists_deliveries(
    client: Any, workspace: Any, receiver: Receiver
) -> None:
    mine, _ = clients.register_client(
        name="Own App", redirect_uris=["http://127.0.0.1:9/cb"], owner_company=workspace.company
    )
    page = f"/settings/developers/{mine.id}"
    login(client, workspace.admin.email)
    assert "Event URL" in client.get(page).get_data(as_text=True)
    response = post_form(client, page, page + "/events-url", {"events_url": receiver.url})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "whsec_" in html and "shown only once" in html
    html = client.get(page).get_data(as_text=True)
    assert "whsec_" not in html and "Send test event" in html
    response = post_form(client, page, page + "/events/test", {})
    assert response.status_code == 302
    jobs.run_pending()
    html = client.get(page).get_data(as_text=True)
    assert "delivered" in html and "Redeliver" in html
    assert receiver.bodies()[0]["type"] == "test"
