"""The partner demo's event endpoint, in process: it verifies each event with the
``standardwebhooks`` library and refuses a bad signature, an old timestamp and a replayed
``webhook-id``; ``grant.revoked`` forgets the grant's tokens at once."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from partners_demo import create_app
from partners_demo import store

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PARTNERS_DEMO_INSTANCE", str(tmp_path))
    app = create_app({"TESTING": True, "EVENTS_SECRET": SECRET, "SECRET_KEY": "x" * 32})
    with app.app_context():
        store.save("ada", {"access_token": "a", "refresh_token": "r"})
        store.set_owner("ada", 7, 9)
    return app


def post(demo: Any, body: dict[str, Any], *, when: datetime | None = None, msg: str = "msg_1",
         secret: str = SECRET) -> Any:  # fmt: skip
    data = json.dumps(body).encode()
    when = when or datetime.now(UTC)
    headers = {
        "webhook-id": msg,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg, when, data),
    }
    return demo.test_client().post("/events", data=data, headers=headers)


OTHER = "whsec_" + "Wk1YWVo0NTY3ODlBQkNERUZHSElKS0xNTk9QUVJTVFU="
REVOKED = {"type": "grant.revoked", "company_id": 7, "teammate_id": 9, "grant_id": 1}


def test_grant_revoked_forgets_the_tokens_and_leaves_a_notice(demo: Any) -> None:
    assert post(demo, REVOKED).status_code == 200
    with demo.app_context():
        assert store.load("ada") is None
        assert store.take_revoked_notice("ada") is True
        assert store.take_revoked_notice("ada") is False


@pytest.mark.parametrize(
    "case",
    ["bad signature", "old timestamp", "future timestamp", "replayed id"],
)
def test_refused_events_change_nothing(demo: Any, case: str) -> None:
    if case == "bad signature":
        answer = post(demo, REVOKED, secret=OTHER)
    elif case == "old timestamp":
        answer = post(demo, REVOKED, when=datetime.now(UTC) - timedelta(minutes=10))
    elif case == "future timestamp":
        answer = post(demo, REVOKED, when=datetime.now(UTC) + timedelta(minutes=10))
    else:
        assert post(demo, {"type": "test"}, msg="msg_same").status_code == 200
        answer = post(demo, REVOKED, msg="msg_same")
    assert answer.status_code == (409 if case == "replayed id" else 400)
    with demo.app_context():
        assert store.load("ada") is not None
