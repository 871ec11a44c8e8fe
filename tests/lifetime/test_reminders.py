"""Reminders by e-mail to a personal token's creator and the company's admins, 7 days and
1 day before it expires (by its own expiry or the maximum lifetime), once per threshold:
the lifecycle job queues them, the mail job sends them over SMTP."""

from __future__ import annotations

from datetime import timedelta

from oauth_server import jobs
from oauth_server import lifecycle
from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from oauth_server.services import token_policy
from tests.factories import make_personal_token

REMINDERS = "personal_tokens.reminders"


def _run(at):
    return lifecycle.run_all(at)[REMINDERS]["reminded"]


def test_the_creator_and_the_admins_are_reminded_7_days_and_1_day_before_once_each(
    app, job_queue, smtp_server, acme
):
    app.config.update(smtp_server.config())
    token, value = make_personal_token(
        acme.company, actor=acme.admin, name="CI deploys", expires_in_days=30
    )
    created = token.created_at

    assert _run(created + timedelta(days=1)) == 0
    assert jobs.run_pending() == 0

    assert _run(created + timedelta(days=23, hours=12)) == 1  # 6.5 days left
    assert _run(created + timedelta(days=24)) == 0  # once per threshold
    assert jobs.run_pending() == 2
    week = smtp_server.mailbox.wait_for(2)
    assert sorted(r for m in week for r in m.recipients) == ["ada@acme.test", "bo@acme.test"]
    assert {m.subject for m in week} == {"API token “CI deploys” expires in 7 days"}
    text = week[0].part("text/plain")
    assert "stops working in 7 days" in text and "Acme" in text
    assert f"http://localhost/settings/plugins-api/api/tokens/{token.id}" in text
    assert value not in text and value not in week[0].part("text/html")

    assert _run(created + timedelta(days=29, hours=6)) == 1
    assert _run(created + timedelta(days=29, hours=12)) == 0
    assert jobs.run_pending() == 2
    day = smtp_server.mailbox.wait_for(4)[2:]
    assert {m.subject for m in day} == {"API token “CI deploys” expires in 1 day"}
    db.session.expire_all()
    assert db.session.get(PersonalToken, token.id).expiry_reminded_days == 1

    assert _run(created + timedelta(days=31)) == 0  # expired: nothing more


def test_the_maximum_lifetime_counts_and_the_mail_says_so(app, job_queue, smtp_server, acme):
    app.config.update(smtp_server.config())
    token, _ = make_personal_token(acme.company, actor=acme.admin, name="Forever")  # never
    token_policy.set_policy(
        acme.company, max_lifetime_days=90, revoke_unused_days=None, actor=acme.admin
    )
    assert _run(token.created_at + timedelta(days=84)) == 1
    assert jobs.run_pending() == 2
    [mail, _] = smtp_server.mailbox.wait_for(2)
    assert "company's maximum token lifetime" in mail.part("text/plain")


def test_a_threshold_the_whole_lifetime_fits_in_is_skipped_and_a_missed_one_is_not_sent_late(
    app, job_queue, smtp_server, acme
):
    app.config.update(smtp_server.config())
    short, _ = make_personal_token(acme.company, actor=acme.admin, expires_in_days=7)
    late, _ = make_personal_token(acme.company, actor=acme.admin, expires_in_days=30)
    # The 7-day token gets no "7 days" mail as it is created; the other's job runs late.
    assert _run(short.created_at + timedelta(hours=1)) == 0
    assert _run(late.created_at + timedelta(days=29, hours=12)) == 1
    db.session.expire_all()
    assert db.session.get(PersonalToken, late.id).expiry_reminded_days == 1
    assert _run(short.created_at + timedelta(days=6, hours=12)) == 1
    assert jobs.run_pending() == 4
    subjects = [m.subject for m in smtp_server.mailbox.wait_for(4)]
    assert all(s.endswith("expires in 1 day") for s in subjects), subjects


def test_a_revoked_token_or_a_deactivated_creator_gets_no_mail_of_its_own(
    app, job_queue, smtp_server, acme
):
    from oauth_server.services import revocation

    app.config.update(smtp_server.config())
    gone, _ = make_personal_token(acme.company, actor=acme.admin, expires_in_days=30)
    revocation.revoke(gone, actor=acme.admin, via=revocation.Via.SETTINGS)
    db.session.commit()
    kept, _ = make_personal_token(acme.company, actor=acme.other_admin, expires_in_days=30)
    acme.other_admin.active = False
    db.session.commit()
    assert _run(kept.created_at + timedelta(days=25)) == 1
    assert jobs.run_pending() == 1  # to Ada, the active admin; nothing for the revoked one
    [mail] = smtp_server.mailbox.wait_for(1)
    assert mail.recipients == ["ada@acme.test"]
