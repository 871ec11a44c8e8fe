"""Outgoing e-mail: both parts, the company's name, never a secret; SMTP and files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from oauth_server import jobs
from oauth_server import mail
from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models import Job
from oauth_server.models import JobState
from tests.mailbox import SmtpServer
from tests.processes import clean_env


def test_an_email_sent_by_its_job_arrives_over_smtp_with_both_parts(
    app: Flask, job_queue: dict[str, Any], smtp_server: SmtpServer
) -> None:
    app.config.update(smtp_server.config(), MAIL_DEFAULT_SENDER="Acme <no-reply@acme.test>")
    job_id = mail.send_later(
        "test", to="bob@acme.test", company_name="Acme & Sons", note="See you <soon>"
    )
    db.session.commit()
    assert smtp_server.mailbox.received == []  # queued, not sent in the caller

    assert jobs.run_pending() == 1

    [received] = smtp_server.mailbox.wait_for(1)
    assert received.recipients == ["bob@acme.test"]
    assert received.sender == "no-reply@acme.test"
    assert received.subject == "Test e-mail from Acme & Sons"
    assert received.message_id == f"<{job_id}@acme.test>"
    text = received.part("text/plain")
    html = received.part("text/html")
    assert "Acme & Sons" in text and "See you <soon>" in text
    assert "Acme &amp; Sons" in html and "See you &lt;soon&gt;" in html  # escaped in HTML
    job = db.session.get(Job, job_id, populate_existing=True)
    assert job is not None and job.state == JobState.DONE and job.args == {}


def test_without_mail_server_the_email_is_a_file_in_the_instance_folder(
    app: Flask, job_queue: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app.config.update(MAIL_SERVER=None, MAIL_FILE_PATH=str(tmp_path / "mail"))
    job_id = mail.send_later("test", to="bob@acme.test", company_name="Acme")
    db.session.commit()

    with caplog.at_level("INFO", logger="oauth_server.mail"):
        jobs.run_pending()

    [written] = list((tmp_path / "mail").iterdir())
    content = written.read_text()
    assert "To: bob@acme.test" in content and f"Message-ID: <{job_id}@" in content
    assert "text/plain" in content and "text/html" in content and "Acme" in content
    [record] = [r for r in caplog.records if r.getMessage() == "mail written to a file"]
    assert record.path == str(written)  # type: ignore[attr-defined]


def test_nothing_is_queued_when_the_callers_transaction_rolls_back(
    app: Flask, job_queue: dict[str, Any], smtp_server: SmtpServer
) -> None:
    app.config.update(smtp_server.config())
    mail.send_later("test", to="bob@acme.test", company_name="Acme")
    db.session.rollback()

    assert jobs.run_pending() == 0
    assert db.session.scalars(select(Job)).all() == []


@pytest.mark.parametrize(
    "context",
    [
        {"password": "hunter2hunter2"},
        {"client_secret": "x"},
        {"api_token": "x"},
        {"note": "your token: " + tokens.generate(tokens.Kind.PERSONAL)},
        {"note": tokens.generate(tokens.Kind.CLIENT_SECRET)},
        {"items": [{"note": tokens.generate(tokens.Kind.REFRESH)}]},
    ],
    ids=["password", "secret key", "token key", "personal token", "client secret", "nested"],
)
def test_a_secret_in_the_context_is_refused_before_anything_is_queued(
    app: Flask, job_queue: dict[str, Any], context: dict[str, Any]
) -> None:
    with pytest.raises(mail.UnsafeMail):
        mail.send_later("test", to="bob@acme.test", company_name="Acme", **context)
    db.session.commit()
    assert db.session.scalars(select(Job)).all() == []


def test_a_rendered_email_that_would_carry_a_token_is_not_sent(
    app: Flask, job_queue: dict[str, Any], smtp_server: SmtpServer
) -> None:
    """The last check, at sending: whatever reached the job (here: a stored row changed
    behind ``send_later``'s back), a token never leaves in an e-mail."""
    app.config.update(smtp_server.config())
    job_id = mail.send_later("test", to="bob@acme.test", company_name="Acme")
    db.session.commit()
    job = db.session.get(Job, job_id)
    assert job is not None
    secret = tokens.generate(tokens.Kind.ACCESS)
    job.args = {**job.args, "context": {"note": secret}}
    db.session.commit()

    jobs.run_pending()

    assert smtp_server.mailbox.received == []
    job = db.session.get(Job, job_id, populate_existing=True)
    assert job is not None and job.state == JobState.FAILED
    assert job.attempts == 1  # refused for good: no retry
    assert "UnsafeMail" in (job.last_error or "") and secret not in (job.last_error or "")


def test_every_kind_names_the_company_in_both_parts(app: Flask) -> None:
    for kind in mail.KINDS:
        rendered = mail.render(kind, company_name="Initech")
        assert "Initech" in rendered.subject + rendered.text
        assert "Initech" in rendered.html


def test_an_unknown_kind_or_no_company_is_refused(app: Flask) -> None:
    with pytest.raises(mail.UnsafeMail):
        mail.send_later("no-such-kind", to="bob@acme.test", company_name="Acme")
    with pytest.raises(mail.UnsafeMail):
        mail.send_later("test", to="bob@acme.test", company_name=" ")
    with pytest.raises(mail.UnsafeMail):
        mail.send_later("test", to="bob@acme.test\r\nBcc: eve@evil.test", company_name="Acme")


def test_the_command_line_queues_a_test_email(
    app: Flask, database_url: str, job_queue: dict[str, Any], tmp_path: Path
) -> None:
    env = clean_env() | {
        "OAUTH_SERVER_INSTANCE": str(tmp_path),  # the queue's file: job_queue's
        "DATABASE_URL": database_url,
        "JOB_QUEUE_NAME": job_queue["JOB_QUEUE_NAME"],
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "oauth-server"), "mail", "test", "--to",
         "ops@acme.test", "--company", "Acme"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["job_id"]
    app.config.update(MAIL_SERVER=None, MAIL_FILE_PATH=str(tmp_path / "mail"))

    assert jobs.run_pending() == 1  # the message the command queued, in this test's queue

    [written] = list((tmp_path / "mail").iterdir())
    assert "To: ops@acme.test" in written.read_text()
    job = db.session.get(Job, job_id, populate_existing=True)
    assert job is not None and job.state == JobState.DONE
