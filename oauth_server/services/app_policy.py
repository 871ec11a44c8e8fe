"""A company's control over third-party apps (Company settings > Plugins & API > Apps with
Access): the "Third-party apps" policy, approval requests and their answers, blocked
apps and trusted domains for metadata-document apps.

``decide`` is the one rule the authorization endpoint asks, once a teammate is signed in
(the policy is per company, so an anonymous request is sent to sign in first). The
functions that change something commit their own transaction.

Decisions where the issue left a choice:
- An app registered by the company itself (Developers) is not third-party: "Approved
  apps only" and "No third-party apps" do not refuse it. "Block app" still does.
- Trusted domains apply to metadata-document apps only (their client_id is a URL); a
  host is trusted when it is a listed domain or a subdomain of one.
- A declined request is final for the teammate: authorizing again shows it was declined,
  with no "Request approval" button; an admin may still approve it later.
- Changing the policy ends no grant: "Revoke all third-party access" does that.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from oauth_server import mail
from oauth_server import urls
from oauth_server.errors import NotAllowed
from oauth_server.errors import NotFound
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import AppApproval
from oauth_server.models import AppBlock
from oauth_server.models import AppPolicy
from oauth_server.models import Company
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import Teammate
from oauth_server.models.app_policy import Approval
from oauth_server.models.app_policy import ThirdPartyApps
from oauth_server.models.base import utcnow
from oauth_server.models.clients import AnyClient
from oauth_server.services import policies
from oauth_server.services import revocation
from oauth_server.services import security_log
from oauth_server.services.admins import active_admins

log = logging.getLogger("oauth_server.audit")

POLICY_LABELS = {
    ThirdPartyApps.ALL: "Allow all apps",
    ThirdPartyApps.APPROVED: "Approved apps only",
    ThirdPartyApps.NONE: "No third-party apps",
}
TRUSTED_DOMAINS_MAX = 100
DOMAIN_MAX = 253
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_SEPARATORS = re.compile(r"[\s,]+")


# --- the decision at /oauth/authorize ------------------------------------------------------


class Verdict(enum.Enum):
    ALLOWED = "allowed"  # consent page (or its skip), then a code
    NEEDS_APPROVAL = "needs_approval"  # the "Request approval" page; no code
    REFUSED = "refused"  # access_denied back to the app, with ``reason``
    UNTRUSTED = "untrusted"  # an error page: nothing is sent to an untrusted host


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    # Why, for REFUSED and UNTRUSTED: plain ASCII without quotes or backslashes (it goes
    # into error_description, RFC 6749 §4.1.2.1).
    reason: str = ""
    # For NEEDS_APPROVAL: the company's request for the app, if any (pending, declined).
    approval: Approval | None = None


ALLOWED = Decision(Verdict.ALLOWED)


@dataclass(frozen=True)
class Policy:
    third_party_apps: ThirdPartyApps
    trusted_domains: list[str]

    @property
    def label(self) -> str:
        return POLICY_LABELS[self.third_party_apps]


DEFAULT = Policy(ThirdPartyApps.ALL, [])


def policy_of(company_id: int) -> Policy:
    row = db.session.get(AppPolicy, company_id)
    if row is None:
        return DEFAULT
    return Policy(ThirdPartyApps(row.third_party_apps), list(row.trusted_domains or []))


def decide(company_id: int, client: AnyClient) -> Decision:
    """Whether a teammate of the company may authorize ``client`` now, checked in this
    order: its host is trusted (metadata-document apps), it is not blocked, the policy."""
    policy = policy_of(company_id)
    host = client.metadata_host
    if (
        host is not None
        and policy.trusted_domains
        and not host_trusted(host, policy.trusted_domains)
    ):
        return Decision(
            Verdict.UNTRUSTED,
            f"The app is on {_plain(host)}, which is not among the trusted domains of this"
            " company.",
        )
    if _blocked(company_id, client.id):
        return Decision(Verdict.REFUSED, "An admin of this company blocked this app.")
    if client.owner_company_id == company_id:
        return ALLOWED  # the company's own app is not a third party
    if policy.third_party_apps is ThirdPartyApps.NONE:
        return Decision(
            Verdict.REFUSED,
            "This company's third-party app policy (No third-party apps) refuses every app.",
        )
    if policy.third_party_apps is ThirdPartyApps.APPROVED:
        status = db.session.scalar(
            select(AppApproval.status).where(
                AppApproval.company_id == company_id, AppApproval.client_pk == client.id
            )
        )
        if status != Approval.APPROVED:
            return Decision(Verdict.NEEDS_APPROVAL, approval=Approval(status) if status else None)
    return ALLOWED


def host_trusted(host: str, domains: Sequence[str]) -> bool:
    """``host`` is a listed domain, or a subdomain of one (``agent.example.com`` under
    ``example.com``; not ``badexample.com``)."""
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def _plain(text: str) -> str:
    return re.sub(r"[^\x20\x21\x23-\x5b\x5d-\x7e]", "?", text)[:100]


def _blocked(company_id: int, client_pk: int) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(AppBlock.company_id == company_id, AppBlock.client_pk == client_pk)
            )
        )
    )


# --- the policy and trusted domains --------------------------------------------------------


def set_third_party_apps(company: Company, value: str, *, actor: Teammate) -> Policy:
    """ "Third-party apps": one of ``ThirdPartyApps``. Existing grants are not touched."""
    try:
        choice = ThirdPartyApps(value)
    except ValueError:
        raise ValidationFailed(
            "Choose one of the third-party app policies.", field="third_party_apps"
        ) from None
    return _set(company, actor, "third_party_apps", choice.value)


def parse_domains(raw: str) -> list[str]:
    """Trusted domains as an admin types them (one per line, or separated by spaces or
    commas): lower-cased ASCII host names, each once, in their order. Raises
    ValidationFailed naming the first bad entry."""
    domains: list[str] = []
    for entry in _SEPARATORS.split(raw.strip()):
        if not entry:
            continue
        domain = entry.lower().rstrip(".")
        if "/" in domain or ":" in domain:
            raise ValidationFailed(
                f"Enter domains like example.com, not URLs: {_plain(entry)[:60]}",
                field="trusted_domains",
            )
        if len(domain) > DOMAIN_MAX or not _DOMAIN.fullmatch(domain):
            raise ValidationFailed(
                f"Not a domain name: {_plain(entry)[:60]}", field="trusted_domains"
            )
        if domain not in domains:
            domains.append(domain)
    if len(domains) > TRUSTED_DOMAINS_MAX:
        raise ValidationFailed(
            f"At most {TRUSTED_DOMAINS_MAX} trusted domains.", field="trusted_domains"
        )
    return domains


def set_trusted_domains(company: Company, raw: str, *, actor: Teammate) -> Policy:
    """Replace the trusted domains (empty: metadata-document apps from any host)."""
    domains = parse_domains(raw)
    return _set(company, actor, "trusted_domains", domains)


def _set(company: Company, actor: Teammate, policy: str, new: object) -> Policy:
    """Store one column of the company's policy row (services/policies.save); commits."""
    defaults = {"third_party_apps": ThirdPartyApps.ALL.value, "trusted_domains": []}
    policies.save(AppPolicy, company, {policy: new}, actor=actor, defaults=defaults)
    return policy_of(company.id)


def _record(
    event: security_log.EventType,
    company: Company,
    actor: Teammate,
    *,
    client: int | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """The security log row of an admin's change here (the policy door)."""
    security_log.record(
        event,
        company.id,
        actor=security_log.Actor.of(actor),
        door=security_log.Door.POLICY,
        client=client,
        details=details,
    )


# --- approval requests -----------------------------------------------------------------------


def _client(client_id: str) -> OAuthClient:
    row = db.session.scalar(
        select(OAuthClient).where(
            OAuthClient.client_id == client_id[:255], OAuthClient.deleted_at.is_(None)
        )
    )
    if row is None:
        raise NotFound("No such app.")
    return row


def request_approval(teammate: Teammate, client_id: str) -> AppApproval:
    """ "Request approval": the company's pending request for the app, recorded once
    (pressing again, or two teammates asking, find the same row). Raises NotAllowed when
    the app needs no approval or was declined, NotFound for an unknown app."""
    client = _client(client_id)
    decision = decide(teammate.company_id, client)
    if decision.verdict is not Verdict.NEEDS_APPROVAL:
        raise NotAllowed("This app needs no approval now: start again from the app.")
    if decision.approval is Approval.DECLINED:
        raise NotAllowed("An admin of this company declined this app.")
    if decision.approval is Approval.PENDING:
        return _approval_of(teammate.company_id, client.id)
    row = AppApproval(
        company_id=teammate.company_id,
        client_pk=client.id,
        status=Approval.PENDING.value,
        requested_by_id=teammate.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        # Another request for the same app landed first: that one stands (and told the
        # admins already).
        row = _approval_of(teammate.company_id, client.id)
    else:
        notify_admins(row, client, teammate)
    db.session.commit()
    log.info(
        "app approval requested",
        extra={
            "company_id": teammate.company_id,
            "client_id": client.client_id,
            "teammate_id": teammate.id,
        },
    )
    return row


def notify_admins(approval: AppApproval, client: OAuthClient, teammate: Teammate) -> None:
    """An e-mail to each active admin of the company about a new request, queued in the
    request's transaction (sent by the worker once it commits). It names the app and the
    teammate and links to Apps with Access, where the admin answers."""
    admins = active_admins(approval.company_id)
    link = urls.external_url("settings.apps_with_access")
    company_name = teammate.company.name
    for admin in admins:
        mail.send_later(
            "approval_requested",
            to=admin.email,
            company_name=company_name,
            app_name=client.name,
            app_client_id=client.client_id,
            requested_by=teammate.name or teammate.email,
            link=link,
        )


def _approval_of(company_id: int, client_pk: int) -> AppApproval:
    return db.session.scalars(
        select(AppApproval).where(
            AppApproval.company_id == company_id, AppApproval.client_pk == client_pk
        )
    ).one()


def approvals(company: Company) -> tuple[list[AppApproval], list[AppApproval]]:
    """The company's requests, pending and answered, oldest first, with their app and
    teammate: one query."""
    rows = db.session.scalars(
        select(AppApproval)
        .where(AppApproval.company_id == company.id)
        .options(joinedload(AppApproval.client), joinedload(AppApproval.requested_by))
        .order_by(AppApproval.requested_at, AppApproval.id)
    )
    pending: list[AppApproval] = []
    answered: list[AppApproval] = []
    for row in rows:
        (pending if row.status == Approval.PENDING else answered).append(row)
    return pending, answered


def answer_request(
    company: Company, approval_id: int, *, approve: bool, actor: Teammate
) -> AppApproval:
    """ "Approve" or "Decline" a request of this company (NotFound for another's). An
    approved app's next authorizations complete; declining ends no grant."""
    row = db.session.scalar(
        select(AppApproval)
        .where(AppApproval.company_id == company.id, AppApproval.id == approval_id)
        .options(joinedload(AppApproval.client))
    )
    if row is None:
        raise NotFound("No such approval request.")
    row.status = (Approval.APPROVED if approve else Approval.DECLINED).value
    row.decided_by_id = actor.id
    row.decided_at = utcnow()
    answered = (
        security_log.EventType.APP_APPROVED if approve else security_log.EventType.APP_DECLINED
    )
    _record(answered, company, actor, client=row.client_pk)
    db.session.commit()
    log.info(
        "app approval answered",
        extra={
            "company_id": company.id,
            "client_id": row.client.client_id,
            "actor_id": actor.id,
            "status": row.status,
        },
    )
    return row


# --- blocked apps ----------------------------------------------------------------------------


def _company_app(company: Company, client_pk: int) -> OAuthClient:
    """An app the company knows: one with a grant (live or not) or a request in it, or one
    of its own. NotFound for any other, so an id says nothing about other companies."""
    known = or_(
        OAuthClient.owner_company_id == company.id,
        exists().where(OAuthGrant.company_id == company.id, OAuthGrant.client_pk == OAuthClient.id),
        exists().where(
            AppApproval.company_id == company.id, AppApproval.client_pk == OAuthClient.id
        ),
        exists().where(AppBlock.company_id == company.id, AppBlock.client_pk == OAuthClient.id),
    )
    row = db.session.scalar(select(OAuthClient).where(OAuthClient.id == client_pk, known))
    if row is None:
        raise NotFound("No such app.")
    return row


def block_app(company: Company, client_pk: int, *, actor: Teammate) -> tuple[OAuthClient, int]:
    """ "Block app": refuse the app's authorizations in the company and revoke every grant
    it holds there (the revocation service's bulk form), in one transaction. Idempotent.
    Returns the app and how many grants were revoked."""
    client = _company_app(company, client_pk)
    if not _blocked(company.id, client.id):
        try:
            with db.session.begin_nested():
                db.session.add(
                    AppBlock(company_id=company.id, client_pk=client.id, blocked_by_id=actor.id)
                )
        except IntegrityError:
            pass  # blocked by another admin at the same moment
        else:
            _record(security_log.EventType.APP_BLOCKED, company, actor, client=client.id)
    revoked = revocation.revoke_partner_access(
        company.id, client_pk=client.id, actor=actor, via=revocation.Via.APP_BLOCKED
    )
    db.session.commit()
    log.info(
        "app blocked",
        extra={"company_id": company.id, "client_id": client.client_id, "actor_id": actor.id},
    )
    return client, revoked


def unblock_app(company: Company, client_pk: int, *, actor: Teammate) -> OAuthClient:
    """ "Unblock": the app may be authorized again (per the policy); the grants its block
    revoked stay revoked."""
    client = _company_app(company, client_pk)
    unblocked = db.session.execute(
        delete(AppBlock).where(AppBlock.company_id == company.id, AppBlock.client_pk == client.id)
    )
    if unblocked.rowcount:  # type: ignore[attr-defined]
        _record(security_log.EventType.APP_UNBLOCKED, company, actor, client=client.id)
    db.session.commit()
    log.info(
        "app unblocked",
        extra={"company_id": company.id, "client_id": client.client_id, "actor_id": actor.id},
    )
    return client


def blocked_apps(company: Company) -> list[AppBlock]:
    return list(
        db.session.scalars(
            select(AppBlock)
            .where(AppBlock.company_id == company.id)
            .options(joinedload(AppBlock.client))
            .order_by(AppBlock.blocked_at.desc(), AppBlock.id.desc())
        )
    )


def revoke_all_partner_access(company: Company, *, actor: Teammate) -> int:
    """ "Revoke all third-party access": every partner grant of the company ends (bulk,
    through the revocation service); personal tokens keep working."""
    revoked = revocation.revoke_partner_access(company.id, actor=actor, via=revocation.Via.ALL_APPS)
    db.session.commit()
    return revoked
