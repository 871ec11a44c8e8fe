"""The provisioning scope: teammates' membership of teams and access to inboxes; shifts.

Every function takes the API principal and plain values and raises our domain errors.
Rows are always fetched by company and id, so an id of another company is ``NotFound``
like an unknown one. Membership changes are idempotent: adding what is there already or
removing what is not changes nothing and is no error. They take effect on the next
request: scopes are checked against ``Teammate.teams`` at every request
(``consent.delegable``), never copied into tokens.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from functools import cache
from typing import Any
from typing import TypeGuard
from zoneinfo import available_timezones

from sqlalchemy import Select
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from oauth_server import ids
from oauth_server import scopes
from oauth_server import text
from oauth_server.errors import NotFound
from oauth_server.errors import ScopeRequired
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import Inbox
from oauth_server.models import Shift
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models import team_memberships
from oauth_server.models.resources import inbox_access
from oauth_server.services import keyset
from oauth_server.services.access import Principal

log = logging.getLogger("oauth_server.audit")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# "HH:MM", two digits each. A range may end at "24:00" (the end of its day), so a night
# shift is written as two ranges: mon 22:00-24:00 and tue 00:00-06:00.
START_PATTERN = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"
END_PATTERN = r"^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
NAME_MAX = 200
TIMEZONE_MAX = 64  # the column's length; the longest IANA name is 32
RANGES_MAX = 50
TEAMMATES_MAX = 1000
SHIFT_FIELDS = frozenset({"name", "timezone", "ranges", "teammate_ids"})

START_RULE = 'must be a time "HH:MM" from 00:00 to 23:59'
END_RULE = 'must be a time "HH:MM" from 00:01 to 24:00'
_START_RE = re.compile(START_PATTERN)
_END_RE = re.compile(END_PATTERN)


def is_start_time(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _START_RE.fullmatch(value) is not None


def is_end_time(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _END_RE.fullmatch(value) is not None


def _require(principal: Principal) -> None:
    # The routes check this too; the service keeps the rule for any other door.
    if not principal.has(scopes.PROVISIONING):
        raise ScopeRequired(
            "This token needs the provisioning scope for this request.",
            scope=scopes.PROVISIONING,
        )


# --- teams and inboxes -----------------------------------------------------------------


def _team(principal: Principal, team_id: int) -> Team:
    team = db.session.scalar(
        select(Team).where(Team.company_id == principal.company.id, Team.id == team_id)
    )
    if team is None:
        raise NotFound("No such team.")
    return team


def _teammate(principal: Principal, teammate_id: int) -> Teammate:
    teammate = db.session.scalar(
        select(Teammate).where(
            Teammate.company_id == principal.company.id, Teammate.id == teammate_id
        )
    )
    if teammate is None:
        raise NotFound("No such teammate.")
    return teammate


def _team_inbox(principal: Principal, inbox_id: int) -> Inbox:
    """A team inbox of the company. A private inbox belongs to its owner alone: it is not
    shared through provisioning, and answers like an unknown id so that a token without
    ``private`` never learns it exists."""
    inbox = db.session.scalar(
        select(Inbox).where(
            Inbox.company_id == principal.company.id,
            Inbox.id == inbox_id,
            Inbox.team_id.is_not(None),
        )
    )
    if inbox is None:
        raise NotFound("No such team inbox.")
    return inbox


def _link(table: Table, owner_column: str, owner_id: int, teammate_id: int) -> bool:
    """Insert a (owner, teammate) row unless it is there; True when it was added."""
    where = (table.c[owner_column] == owner_id, table.c.teammate_id == teammate_id)
    if db.session.scalar(select(exists().where(*where))):
        return False
    try:
        db.session.execute(
            insert(table).values({owner_column: owner_id, "teammate_id": teammate_id})
        )
        db.session.commit()
    except IntegrityError:
        # A concurrent request added the same row first: the outcome asked for holds.
        db.session.rollback()
        return False
    return True


def _unlink(table: Table, owner_column: str, owner_id: int, teammate_id: int) -> bool:
    """Delete a (owner, teammate) row; True when there was one."""
    result = db.session.execute(
        delete(table).where(table.c[owner_column] == owner_id, table.c.teammate_id == teammate_id)
    )
    db.session.commit()
    return bool(getattr(result, "rowcount", 0))


def add_team_member(principal: Principal, team_id: int, teammate_id: int) -> bool:
    """Make a teammate a member of a team; True if they were not one yet."""
    _require(principal)
    team = _team(principal, team_id)
    teammate = _teammate(principal, teammate_id)
    added = _link(team_memberships, "team_id", team.id, teammate.id)
    if added:
        log.info("team member added", extra=_audit(principal, team_id=team.id, teammate=teammate))
    return added


def remove_team_member(principal: Principal, team_id: int, teammate_id: int) -> bool:
    """Take a teammate out of a team; True if they were a member.

    Partner grants that teammate authorized for ``team:<id>`` stop reaching the team on
    their next request (``consent.delegable``).
    """
    _require(principal)
    team = _team(principal, team_id)
    teammate = _teammate(principal, teammate_id)
    removed = _unlink(team_memberships, "team_id", team.id, teammate.id)
    if removed:
        log.info("team member removed", extra=_audit(principal, team_id=team.id, teammate=teammate))
    return removed


def inbox_teammates(principal: Principal, inbox_id: int) -> Select[Any]:
    """The teammates with access to a team inbox."""
    _require(principal)
    inbox = _team_inbox(principal, inbox_id)
    with_access = select(inbox_access.c.teammate_id).where(inbox_access.c.inbox_id == inbox.id)
    return select(Teammate).where(
        Teammate.company_id == principal.company.id, Teammate.id.in_(with_access)
    )


def grant_inbox_access(principal: Principal, inbox_id: int, teammate_id: int) -> bool:
    """Give a teammate access to a team inbox; True if they had none yet."""
    _require(principal)
    inbox = _team_inbox(principal, inbox_id)
    teammate = _teammate(principal, teammate_id)
    added = _link(inbox_access, "inbox_id", inbox.id, teammate.id)
    if added:
        log.info(
            "inbox access granted", extra=_audit(principal, inbox_id=inbox.id, teammate=teammate)
        )
    return added


def revoke_inbox_access(principal: Principal, inbox_id: int, teammate_id: int) -> bool:
    """Take a teammate's access to a team inbox away; True if they had it."""
    _require(principal)
    inbox = _team_inbox(principal, inbox_id)
    teammate = _teammate(principal, teammate_id)
    removed = _unlink(inbox_access, "inbox_id", inbox.id, teammate.id)
    if removed:
        log.info(
            "inbox access removed", extra=_audit(principal, inbox_id=inbox.id, teammate=teammate)
        )
    return removed


def _audit(principal: Principal, *, teammate: Teammate, **ids: int) -> dict[str, Any]:
    return {
        "company_id": principal.company.id,
        "token_kind": principal.kind,
        "token_id": principal.token_id,
        "teammate_id": teammate.id,
        **ids,
    }


# --- shifts ----------------------------------------------------------------------------


def shifts(principal: Principal) -> Select[Any]:
    """The company's shifts."""
    _require(principal)
    return (
        select(Shift)
        .where(keyset.in_company(Shift, principal.company.id))
        .options(selectinload(Shift.teammates))
    )


def get_shift(principal: Principal, shift_id: int) -> Shift:
    shift: Shift | None = db.session.scalar(shifts(principal).where(Shift.id == shift_id))
    if shift is None:
        raise NotFound("No such shift.")
    return shift


def create_shift(
    principal: Principal,
    *,
    name: str,
    timezone: str,
    ranges: Sequence[Mapping[str, Any]],
    teammate_ids: Iterable[int] = (),
) -> Shift:
    """A new shift: weekly ``ranges`` in the IANA ``timezone``, worked by ``teammate_ids``."""
    _require(principal)
    shift = Shift(
        company_id=principal.company.id,
        name=check_name(name),
        timezone=check_timezone(timezone),
        ranges=check_ranges(ranges),
        teammates=_company_teammates(principal, teammate_ids),
    )
    db.session.add(shift)
    db.session.commit()
    log.info("shift created", extra={"company_id": principal.company.id, "shift_id": shift.id})
    return shift


def update_shift(principal: Principal, shift_id: int, changes: Mapping[str, Any]) -> Shift:
    """Change a shift's fields; ``ranges`` and ``teammate_ids`` are replaced as a whole.

    Every value is checked before any is set, so a refused change leaves the shift as it was.
    """
    shift = get_shift(principal, shift_id)
    for field in changes:
        if field not in SHIFT_FIELDS:
            raise ValidationFailed("is not a field of a shift", field=field)
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = check_name(changes["name"])
    if "timezone" in changes:
        values["timezone"] = check_timezone(changes["timezone"])
    if "ranges" in changes:
        values["ranges"] = check_ranges(changes["ranges"])
    if "teammate_ids" in changes:
        values["teammates"] = _company_teammates(principal, changes["teammate_ids"])
    for name, value in values.items():
        setattr(shift, name, value)
    db.session.commit()
    return shift


def delete_shift(principal: Principal, shift_id: int) -> None:
    """Delete a shift (its teammates stay; only their link to it goes)."""
    shift = get_shift(principal, shift_id)
    db.session.delete(shift)
    db.session.commit()
    log.info("shift deleted", extra={"company_id": principal.company.id, "shift_id": shift_id})


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("is required", field="name")
    stripped: str = name.strip()
    if len(stripped) > NAME_MAX:
        raise ValidationFailed(f"must be 1 to {NAME_MAX} characters", field="name")
    broken = text.problem(stripped)
    if broken:
        raise ValidationFailed(broken, field="name")
    return stripped


# In the system's tz database but not zones: the server's own setting and a placeholder.
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def check_timezone(name: Any) -> str:
    """An IANA time zone name, exactly as the tz database spells it ("Europe/Paris")."""
    # Membership in the known names, not ZoneInfo(name): that would read any file name
    # it is given and accepts spellings (case, "posixrules") that are not zone names.
    if not isinstance(name, str) or len(name) > TIMEZONE_MAX or name not in _zones():
        raise ValidationFailed(
            'must be an IANA time zone name such as "Europe/Paris" or "UTC"', field="timezone"
        )
    return name


def check_ranges(ranges: Any) -> list[dict[str, str]]:
    """Weekly ranges as stored: checked, sorted by day then start.

    Each is ``{"day": "mon".."sun", "start": "HH:MM", "end": "HH:MM"}`` with end after
    start (end may be "24:00"); two ranges of one day may touch (12:00 then 12:00) but
    not overlap.
    """
    if not isinstance(ranges, list | tuple):
        raise ValidationFailed("must be a list of time ranges", field="ranges")
    if len(ranges) > RANGES_MAX:
        raise ValidationFailed(f"must have at most {RANGES_MAX} ranges", field="ranges")
    checked: list[dict[str, str]] = []
    for index, item in enumerate(ranges):
        where = f"ranges[{index}]"
        if not isinstance(item, Mapping):
            raise ValidationFailed("must be an object with day, start and end", field=where)
        extra = set(item) - {"day", "start", "end"}
        if extra:
            raise ValidationFailed("is not a known field", field=f"{where}.{sorted(extra)[0]}")
        day, start, end = item.get("day"), item.get("start"), item.get("end")
        if day not in DAYS:
            raise ValidationFailed("must be one of " + ", ".join(DAYS), field=f"{where}.day")
        if not is_start_time(start):
            raise ValidationFailed(START_RULE, field=f"{where}.start")
        if not is_end_time(end):
            raise ValidationFailed(END_RULE, field=f"{where}.end")
        # "HH:MM" strings of equal length compare as the times they name.
        if end <= start:
            raise ValidationFailed(f"must be after start ({start})", field=f"{where}.end")
        checked.append({"day": day, "start": start, "end": end})
    _refuse_overlaps(checked)
    return sorted(checked, key=lambda r: (DAYS.index(r["day"]), r["start"]))


def _refuse_overlaps(ranges: list[dict[str, str]]) -> None:
    for later, b in enumerate(ranges):
        for earlier in range(later):
            a = ranges[earlier]
            if a["day"] == b["day"] and a["start"] < b["end"] and b["start"] < a["end"]:
                raise ValidationFailed(
                    f"overlaps ranges[{earlier}] ({a['day']} {a['start']}-{a['end']})",
                    field=f"ranges[{later}]",
                )


def _company_teammates(principal: Principal, teammate_ids: Iterable[int]) -> list[Teammate]:
    """The teammates of these ids, all of the principal's company, else a 400."""
    wanted = list(dict.fromkeys(teammate_ids))  # repeats are harmless: keep the first
    if len(wanted) > TEAMMATES_MAX:
        raise ValidationFailed(f"must have at most {TEAMMATES_MAX} ids", field="teammate_ids")
    if any(type(i) is not int or not ids.is_id(i) for i in wanted):
        raise ValidationFailed("must be teammate ids (positive integers)", field="teammate_ids")
    if not wanted:
        return []
    found = list(
        db.session.scalars(
            select(Teammate)
            .where(Teammate.company_id == principal.company.id, Teammate.id.in_(wanted))
            .order_by(Teammate.id)
        )
    )
    unknown = sorted(set(wanted) - {t.id for t in found})
    if unknown:
        shown = ", ".join(str(i) for i in unknown[:5])
        raise ValidationFailed(f"no such teammate: {shown}", field="teammate_ids")
    return found
