"""Row ids as requests name them: 1 to 2**31 - 1, the range of the 32-bit integer columns.

A larger number names no row, and must not reach the database (PostgreSQL refuses it for
an integer column). Every surface checks its ids here: the API's ``<id:...>`` URL rules,
request bodies, the settings pages, SCIM and the paging cursors.
"""

from __future__ import annotations

from werkzeug.routing import BaseConverter

ID_MAX = 2**31 - 1
# The longest number read from a request: within a signed 64-bit integer.
DIGITS_MAX = 18

# 1 to 2**31 - 1 (2147483647) as a pattern.
ID_PATTERN = (
    r"(?:[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}"
    r"|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}"
    r"|21474836[0-3][0-9]|214748364[0-7])"
)


def is_id(value: int) -> bool:
    """Whether a row can have this id."""
    return 1 <= value <= ID_MAX


def whole_number(raw: str, *, digits: int = DIGITS_MAX) -> int | None:
    """``raw`` as a number if it is ASCII digits only, at most ``digits`` of them."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > digits:
        return None
    return int(raw)


def parse_id(raw: str, *, digits: int = DIGITS_MAX) -> int | None:
    """An id from a request: digits only, in the columns' range; else None."""
    number = whole_number(raw, digits=digits)
    return number if number is not None and is_id(number) else None


def below(cursor: int | None) -> int | None:
    """A paging cursor (the id a page starts below) as a bound on ids; None when there is
    none, or when every id is below it."""
    return cursor if cursor is not None and cursor <= ID_MAX else None


class IdConverter(BaseConverter):
    """``<id:name>`` in a rule: a row id, 1 to 2**31 - 1.

    The pattern alone decides (no validation after matching, which would turn a bad
    id on a PATCH into a 405): a larger number matches no route and is a 404 instead of
    overflowing in the database (PostgreSQL refuses 2147483648 for an integer column).
    """

    regex = ID_PATTERN
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: object) -> str:
        return str(int(value))  # type: ignore[call-overload]
