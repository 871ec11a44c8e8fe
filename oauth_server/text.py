"""What stored text may hold: no NUL, no control characters.

One rule for every door (forms, API bodies, the command line): PostgreSQL refuses NUL in
text outright, and a control character in a name (a tab, a line break, an escape) only
ever garbles the pages, logs and CSV files it is shown in. A multi-line field (a message
body, notes) keeps tab and line breaks. Lone surrogates, which JSON escapes can spell,
no database can store either.

``refuse_nul_at_flush`` is the last line of defence: whatever a door forgot, no NUL
reaches the database through the ORM.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm import UOWTransaction
from sqlalchemy.orm.attributes import instance_state

from oauth_server.errors import ValidationFailed

# C0 controls, DEL, C1 controls and lone surrogates.
_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The same, but tab, line feed and carriage return are text in a multi-line field.
_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

RULE = "must not contain control characters"


def problem(value: str, *, multiline: bool = False) -> str | None:
    """The rule ``value`` breaks, worded to follow a field's name, or None."""
    pattern = _MULTI_LINE if multiline else _SINGLE_LINE
    return RULE if pattern.search(value) else None


def check(value: str, what: str, *, field: str, multiline: bool = False) -> str:
    """``value`` unchanged, or ``ValidationFailed`` naming ``what`` ("Name", "Team name")."""
    broken = problem(value, multiline=multiline)
    if broken:
        raise ValidationFailed(f"{what} {broken}.", field=field)
    return value


NAME_MAX = 200


def name(
    value: str | None,
    what: str,
    *,
    field: str = "name",
    required: bool = True,
    limit: int = NAME_MAX,
) -> str:
    """A name as stored (a company's, a teammate's, a team's, a token's, an app's):
    trimmed, at most ``limit`` characters, on one line; ``what`` names it in the errors."""
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(f"{what} is required.", field=field)
    if len(value) > limit:
        raise ValidationFailed(f"{what} must be at most {limit} characters.", field=field)
    return check(value, what, field=field)


def is_storable(value: str) -> bool:
    """Whether ``value`` can be compared with stored text at all (a lookup by name or
    e-mail): one with a control character matches nothing, and PostgreSQL would refuse
    a NUL in the query itself."""
    return problem(value) is None


class UnstorableText(ValidationFailed):
    """A NUL on its way to the database: a door let through what ``check`` refuses."""


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


def _before_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    for obj in (*session.new, *session.dirty):
        state = instance_state(obj)
        names = state.dict.keys() if obj in session.new else state.committed_state.keys()
        for name in names:
            if name in state.mapper.column_attrs and _holds_nul(state.dict.get(name)):
                raise UnstorableText(f"{name} must not contain NUL characters.", field=name)


def refuse_nul_at_flush() -> None:
    """Refuse, at every ORM flush, a new or changed column value holding a NUL."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
