"""Shifts: the weekly hours a set of teammates works, in a time zone.

The provisioning scope's. Every value is checked before anything is stored, so a refused
change leaves a shift as it was.
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
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from oauth_server import ids
from oauth_server import scopes
from oauth_server import text
from oauth_server.errors import NotFound
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import Shift
from oauth_server.models import Teammate
from oauth_server.services import keyset
from oauth_server.services import teammates
from oauth_server.services.principals import Principal
from oauth_server.services.principals import require_scope

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


def shifts(principal: Principal) -> Select[Any]:
    """The company's shifts."""
    require_scope(principal, scopes.PROVISIONING)
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
    require_scope(principal, scopes.PROVISIONING)
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
    found, unknown = teammates.by_ids(principal.company, wanted)
    if unknown:
        shown = ", ".join(str(i) for i in sorted(unknown)[:5])
        raise ValidationFailed(f"no such teammate: {shown}", field="teammate_ids")
    return sorted(found, key=lambda t: t.id)
