"""SCIM filters (RFC 7644 §3.4.2.2) as SQL conditions.

scim2-models parses and checks the filter (``ScimFilter``: syntax, attribute names
case-insensitively, operators against attribute types) and evaluates it on a resource
(``ScimFilter.match``). This module only walks the parsed tree with the library's
``FilterVisitor`` and emits SQLAlchemy conditions with the same semantics, so that a
``userName eq "x"`` is one indexed lookup instead of a scan:

- strings compare case-insensitively unless the attribute is caseExact (``id``,
  ``externalId``); ``userName`` in its stored key (NFC, case folded), as
  ``comparison_key`` does for the filters evaluated in Python;
- an attribute we do not store (``title``...) has no value: ``eq`` and ``pr`` are
  false, ``ne`` is true;
- a multi-valued attribute matches when any value matches (``ne``: when none equals).

An attribute that is computed rather than stored (``name.givenName``, ``$ref``,
``meta.location``...) raises ``Untranslatable``; the caller then evaluates the filter
with ``ScimFilter.match`` on the company's resources. A test checks both ways agree.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from enum import Enum
from typing import Any

from scim2_models import BaseModel
from scim2_models import ScimFilter
from scim2_models.path import AttributeBinding
from scim2_models.path import CompareOperator
from scim2_models.path import Comparison
from scim2_models.path import FilterVisitor
from scim2_models.path import LogicalExpr
from scim2_models.path import LogicalOperator
from scim2_models.path import Not
from scim2_models.path import Present
from scim2_models.path import ValuePath
from scim2_models.path import coerce_value
from sqlalchemy import ColumnElement
from sqlalchemy import String
from sqlalchemy import and_
from sqlalchemy import cast
from sqlalchemy import exists
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import not_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true

from oauth_server.extensions import db
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models import team_memberships
from oauth_server.models.teammate import identity_key

Condition = ColumnElement[bool]
Op = CompareOperator


class Untranslatable(Exception):
    """The filter names an attribute that is computed, not stored: match in Python."""


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def comparison_key(binding: Any, value: str) -> str:
    """scim2-models' ``comparison_key``: NFC, and case folded unless caseExact."""
    return _nfc(value) if binding.case_exact else identity_key(value)


@dataclass(frozen=True)
class Column:
    """A stored scalar: a column (or SQL expression) of the row."""

    expr: Any
    kind: str = "string"  # string, bool or datetime
    case_exact: bool = False
    stored_key: bool = False  # kept as ``identity_key``: compared as is (the index serves)
    present: Condition | None = None  # None: every row has a value

    def has_value(self) -> Condition:
        return true() if self.present is None else self.present

    def compare(self, op: Op, value: Any) -> Condition:
        if value is None:  # RFC 7644: "eq null" matches a missing value
            if op == Op.eq:
                return not_(self.has_value())
            return self.has_value() if op == Op.ne else false()
        if op == Op.ne:
            return not_(self.compare(Op.eq, value))
        test = self._test(op, value)
        return test if self.present is None else and_(self.present, test)

    def _test(self, op: Op, value: Any) -> Condition:
        if self.kind == "bool":
            return self.expr == value if op == Op.eq and isinstance(value, bool) else false()
        if self.kind == "datetime":
            if not isinstance(value, datetime) or op in (Op.co, Op.sw, Op.ew):
                return false()
            return _ordered(self.expr, op, _aware(value))
        if not isinstance(value, str) or "\x00" in value:
            return false()  # no stored string holds a NUL (PostgreSQL takes none)
        if self.stored_key:
            right = identity_key(value)
        else:
            right = _nfc(value) if self.case_exact else _nfc(value).lower()
        folded = not (self.case_exact or self.stored_key)
        if folded and not right.isascii() and _dialect() == "sqlite":
            raise Untranslatable("SQLite's lower() folds ASCII letters only")
        left = func.lower(self.expr) if folded else self.expr
        if op == Op.co:
            return left.contains(right, autoescape=True)
        if op == Op.sw:
            return left.startswith(right, autoescape=True)
        if op == Op.ew:
            return left.endswith(right, autoescape=True)
        return _ordered(left, op, right)


def _aware(value: datetime) -> datetime:
    # A time without zone is read as UTC, the zone of every stored time.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _dialect() -> str:
    return db.engine.dialect.name


def _ordered(left: Any, op: Op, right: Any) -> Condition:
    if op != Op.eq and isinstance(right, str) and _dialect() == "postgresql":
        # Code point order, as in Python, whatever the database's collation.
        left = left.collate("C")
    operations: dict[Op, Callable[[Any, Any], Condition]] = {
        Op.eq: lambda a, b: a == b,
        Op.gt: lambda a, b: a > b,
        Op.ge: lambda a, b: a >= b,
        Op.lt: lambda a, b: a < b,
        Op.le: lambda a, b: a <= b,
    }
    return operations[op](left, right)


@dataclass(frozen=True)
class Constant:
    """A value every row has (``meta.resourceType``), or None for "not stored"."""

    value: Any = None
    case_exact: bool = False

    def has_value(self) -> Condition:
        return true() if self.value is not None else false()

    def compare(self, op: Op, value: Any) -> Condition:
        return true() if _python_compare(self.value, value, op, self.case_exact) else false()


def _python_compare(actual: Any, expected: Any, op: Op, case_exact: bool) -> bool:
    if isinstance(expected, Enum):
        expected = expected.value
    if actual is None or expected is None:
        if op == Op.eq:
            return actual is None and expected is None
        return op == Op.ne and (actual is None) != (expected is None)
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = _nfc(actual), _nfc(expected)
        if not case_exact:
            actual, expected = actual.lower(), expected.lower()
    elif op in (Op.co, Op.sw, Op.ew):
        return False
    outcomes: dict[Op, Callable[[], bool]] = {
        Op.eq: lambda: actual == expected,
        Op.ne: lambda: actual != expected,
        Op.co: lambda: expected in actual,
        Op.sw: lambda: actual.startswith(expected),
        Op.ew: lambda: actual.endswith(expected),
        Op.gt: lambda: actual > expected,
        Op.ge: lambda: actual >= expected,
        Op.lt: lambda: actual < expected,
        Op.le: lambda: actual <= expected,
    }
    try:
        return outcomes[op]()
    except TypeError:
        return False


@dataclass(frozen=True)
class Entries:
    """A multi-valued attribute kept in another table (a team's members, a user's teams).

    ``where(cond)`` is ``EXISTS`` an entry of this row satisfying ``cond``; ``entry``
    maps the entry's sub-attributes (``value``, ``display``) to operands.
    """

    where: Callable[[Condition], Condition]
    entry: dict[str, Column]

    def has_value(self) -> Condition:
        return self.where(true())

    def compare(self, op: Op, value: Any, sub: str = "value") -> Condition:
        column = self.entry.get(sub)
        if column is None:
            raise Untranslatable(sub)
        if value is None:  # a missing attribute: no entry at all
            if op == Op.eq:
                return not_(self.has_value())
            return self.has_value() if op == Op.ne else false()
        if op == Op.ne:  # no entry equals the value
            return not_(self.where(column.compare(Op.eq, value)))
        return self.where(column.compare(op, value))


Operand = Column | Constant | Entries


def _complex(binding: AttributeBinding) -> bool:
    kind = binding.field_type
    return isinstance(kind, type) and issubclass(kind, BaseModel) and not binding.is_multivalued


def _id(column: Any) -> Column:
    # ids are strings in SCIM (caseExact): "1" < "10" < "9", as ScimFilter.match says.
    return Column(cast(column, String), case_exact=True)


def _memberships(owner: Any, link: Any) -> Callable[[Condition], Condition]:
    def where(condition: Condition) -> Condition:
        return exists(select(1).where(owner == link, condition))

    return where


def _teams_of_teammate(condition: Condition) -> Condition:
    return exists(
        select(1)
        .select_from(team_memberships.join(Team, Team.id == team_memberships.c.team_id))
        .where(team_memberships.c.teammate_id == Teammate.id, condition)
    )


_NAME = Column(Teammate.name, present=Teammate.name != "")

USER_OPERANDS: dict[tuple[str, str | None], Operand] = {
    ("id", None): _id(Teammate.id),
    ("user_name", None): Column(Teammate.user_name_key, stored_key=True),
    ("external_id", None): Column(
        Teammate.external_id, case_exact=True, present=Teammate.external_id.is_not(None)
    ),
    ("display_name", None): _NAME,
    ("name", None): _NAME,  # presence of the complex attribute
    ("name", "formatted"): _NAME,
    ("active", None): Column(Teammate.active, kind="bool"),
    ("meta", None): Constant(True),
    ("meta", "created"): Column(Teammate.created_at, kind="datetime"),
    ("meta", "resource_type"): Constant("User", case_exact=True),
    ("groups", None): Entries(
        _teams_of_teammate, {"value": _id(Team.id), "display": Column(Team.name)}
    ),
}
# Other parts of these, and the whole of emails and roles: in Python.
USER_COMPUTED = {"name", "groups", "meta", "schemas", "emails", "roles"}

GROUP_OPERANDS: dict[tuple[str, str | None], Operand] = {
    ("id", None): _id(Team.id),
    ("display_name", None): Column(Team.name),
    ("external_id", None): Column(
        Team.external_id, case_exact=True, present=Team.external_id.is_not(None)
    ),
    ("members", None): Entries(
        _memberships(team_memberships.c.team_id, Team.id),
        {"value": _id(team_memberships.c.teammate_id)},
    ),
    ("meta", None): Constant(True),
    ("meta", "created"): Column(Team.created_at, kind="datetime"),
    ("meta", "resource_type"): Constant("Group", case_exact=True),
}
GROUP_COMPUTED = {"members", "meta", "schemas"}


class _ToSql(FilterVisitor[Condition]):
    def __init__(
        self,
        scim_filter: ScimFilter[Any],
        operands: dict[tuple[str, str | None], Operand],
        computed: set[str] | None,
    ) -> None:
        self.filter = scim_filter
        self.operands = operands
        # None: inside a value selection, where anything unmapped is computed.
        self.computed = computed

    def _operand(self, binding: AttributeBinding | None) -> tuple[Operand, str | None]:
        if binding is None:  # pragma: no cover - the filter was checked strictly
            raise Untranslatable("unknown attribute")
        key = (binding.field_name, binding.sub_field_name)
        if key in self.operands:
            return self.operands[key], None
        head = self.operands.get((binding.field_name, None))
        if isinstance(head, Entries) and binding.sub_field_name in head.entry:
            return head, binding.sub_field_name
        if self.computed is None or binding.field_name in self.computed:
            raise Untranslatable(binding.urn)
        return Constant(None), None  # declared by the schema, not stored

    def visit_comparison(self, node: Comparison) -> Condition:
        binding = self.filter.resolve_comparison(node.attr_path)
        if binding is not None and binding.sub_field_name is None and _complex(binding):
            raise Untranslatable(binding.urn)  # a whole complex value compared to a literal
        operand, sub = self._operand(binding)
        value = coerce_value(binding, node.value, node.op) if binding else node.value
        if isinstance(value, Enum):
            value = value.value
        if isinstance(operand, Entries):
            return operand.compare(node.op, value, sub or "value")
        return operand.compare(node.op, value)

    def visit_present(self, node: Present) -> Condition:
        operand, sub = self._operand(self.filter.resolve(node.attr_path))
        if isinstance(operand, Entries) and sub is not None:
            return operand.where(operand.entry[sub].has_value())
        return operand.has_value()

    def visit_not(self, node: Not) -> Condition:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> Condition:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> Condition:
        binding = self.filter.resolve(node.attr_path)
        operand, _ = self._operand(binding)
        if binding is None or not isinstance(binding.field_type, type):
            raise Untranslatable(str(node))  # pragma: no cover
        inner = ScimFilter[binding.field_type](node.val_filter)  # type: ignore[name-defined]
        if isinstance(operand, Entries):
            entry: dict[tuple[str, str | None], Operand] = {
                (name, None): column for name, column in operand.entry.items()
            }
            return operand.where(_ToSql(inner, entry, None).visit(inner.ast))
        raise Untranslatable(str(node))


def user_condition(scim_filter: ScimFilter[Any]) -> Condition:
    """The SQL condition of a Users filter; raises Untranslatable for computed attributes."""
    return _ToSql(scim_filter, USER_OPERANDS, USER_COMPUTED).visit(scim_filter.ast)


def group_condition(scim_filter: ScimFilter[Any]) -> Condition:
    """The SQL condition of a Groups filter; raises Untranslatable for computed attributes."""
    return _ToSql(scim_filter, GROUP_OPERANDS, GROUP_COMPUTED).visit(scim_filter.ast)
