"""Leaked tokens: strings found in public (GitHub's secret scanning, anyone's report)
recognised, revoked through the one revocation service, logged and told to the admins.

Recognition is offline first: a string whose prefix and checksum are not ours
(``tokens.kind_of``) is a false positive without a database statement. A well-formed
personal, access or refresh token is looked up by its hash; when it names a row:

- a personal token: that token is revoked;
- an access token: that access token only (as RFC 7009 revokes it);
- a refresh token: its whole grant (a leaked refresh token can mint access tokens).

Label (GitHub's ``true_positive`` / ``false_positive``): true for one of our token strings
that names a stored token, live or not (revoked or expired already: the string was a
real token of ours all the same); false for anything else, codes, client secrets and
password link codes included (they are short-lived or not revocable here).

A report that revoked something live writes, per token, a ``token.leak_reported`` row
(with where it was found) beside the revocation's own row, and queues one e-mail per
company admin naming each token (its name or app, never its value) and where it was
found. A token reported again once revoked writes and sends nothing more: a public
report cannot be made into a flood of rows and e-mails.

In the caller's transaction: the caller commits (the e-mails are queued on commit).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from oauth_server import mail
from oauth_server import text
from oauth_server import tokens
from oauth_server import urls
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import Teammate
from oauth_server.services import oauth_tokens
from oauth_server.services import personal_tokens
from oauth_server.services import revocation
from oauth_server.services import security_log
from oauth_server.services.admins import active_admins
from oauth_server.services.presented import PresentedToken

TRUE_POSITIVE = "true_positive"
FALSE_POSITIVE = "false_positive"
MAX_ITEMS = 1000
URL_MAX = 2000  # what a row and an e-mail keep of where a token was found
SOURCE_MAX = 100
#: The kinds a report can revoke; the other kinds are labelled false positives.
REVOCABLE = (tokens.Kind.PERSONAL, tokens.Kind.ACCESS, tokens.Kind.REFRESH)

# One of our token strings inside a URL or a source name (a report may quote the token
# there): cut out before the text is stored or mailed.
_OURS = re.compile(tokens.PREFIX_PATTERN + "[0-9A-Za-z]*")


@dataclass(frozen=True)
class Found:
    """One reported string and where it was found."""

    value: str
    url: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Finding:
    """A token of a company that a report revoked: what the log and the e-mail say."""

    company_id: int
    kind: str  # "personal" or "oauth"
    label: str  # how the e-mail names it
    token_id: int | None
    grant_id: int | None
    client_pk: int | None
    url: str | None
    source: str | None


def clean(value: Any, limit: int) -> str | None:
    """A URL or source as stored and mailed: text, bounded, without any token of ours."""
    if not isinstance(value, str) or not value.strip():
        return None
    kept = _OURS.sub("[redacted]", value.strip())[:limit]
    return kept if text.is_storable(kept) else None


def handle(reported: Iterable[Found]) -> list[bool]:
    """Revoke what the reported strings name (``Via.LEAK_REPORT``); for each string,
    whether it is a true positive. In the caller's transaction."""
    labels: list[bool] = []
    findings: list[Finding] = []
    for found in reported:
        known, finding = _handle_one(found)
        labels.append(known)
        if finding is not None:
            findings.append(finding)
    _record(findings)
    _notify(findings)
    return labels


def _handle_one(found: Found) -> tuple[bool, Finding | None]:
    kind = tokens.kind_of(found.value)
    if kind not in REVOCABLE:
        return False, None  # not ours, or mistyped: no database statement
    url, source = clean(found.url, URL_MAX), clean(found.source, SOURCE_MAX)
    via = revocation.Via.LEAK_REPORT
    if kind is tokens.Kind.PERSONAL:
        personal = personal_tokens.find_by_value(found.value)
        if personal is None:
            return False, None
        if not revocation.revoke(personal, actor=None, via=via):
            return True, None
        label = f'personal token "{personal.name}" (pt_{personal.id})'
        return True, Finding(
            personal.company_id, personal.kind, label, personal.id, None, None, url, source
        )
    presented = oauth_tokens.find_presented(found.value)
    if presented is None:
        return False, None
    if presented.part == "access_token" and presented.row.revoked_at is not None:
        return True, None  # its pair ended with its grant: nothing live to revoke or tell
    if not revocation.revoke(presented, actor=None, via=via):
        return True, None
    return True, _oauth_finding(presented, url, source)


def _oauth_finding(presented: PresentedToken, url: str | None, source: str | None) -> Finding:
    grant = db.session.get_one(OAuthGrant, presented.grant_id)
    client = db.session.get_one(OAuthClient, presented.client_pk)
    teammate = db.session.get(Teammate, grant.teammate_id) if grant.teammate_id else None
    whose = f", granted by {teammate.email}" if teammate else ""
    if presented.part == "refresh_token":
        label = f'refresh token of the app "{client.name}" ({client.client_id}{whose}): '
        label += f"its access (gr_{grant.id}) revoked"
    else:
        label = f'access token of the app "{client.name}" ({client.client_id}{whose})'
    return Finding(presented.company_id, "oauth", label, None, grant.id, client.id, url, source)


def _record(findings: list[Finding]) -> None:
    """One ``token.leak_reported`` row per token revoked, with where it was found."""
    security_log.record_many(
        [
            security_log.Event(
                security_log.EventType.TOKEN_LEAK_REPORTED,
                finding.company_id,
                security_log.SYSTEM,
                security_log.Door.LEAK_REPORT,
                token_id=finding.token_id,
                grant_id=finding.grant_id,
                client_pk=finding.client_pk,
                details={"kind": finding.kind, "url": finding.url, "source": finding.source},
            )
            for finding in findings
        ]
    )


def _notify(findings: list[Finding]) -> None:
    """One e-mail per active admin of each company, listing its tokens revoked."""
    by_company: dict[int, list[Finding]] = {}
    for finding in findings:
        by_company.setdefault(finding.company_id, []).append(finding)
    for company_id, found in by_company.items():
        company = db.session.get_one(Company, company_id)
        admins = active_admins(company_id)
        items = [{"what": f.label, "url": f.url or "", "source": f.source or ""} for f in found]
        link = urls.external_url("settings.security_log_page")
        for admin in admins:
            mail.send_later(
                "token_leaked",
                to=admin.email,
                company_name=company.name,
                items=items,
                count=len(items),
                link=link,
            )
