"""Request and response bodies of the JSON API as pydantic models.

The same models validate requests, serialize responses and become the schemas of the
OpenAPI document, so the three cannot disagree. The six resource collections share one
shape (a name, exactly one owner, timestamps) plus a few optional fields each; their
models are generated from the ``COLLECTIONS`` table below rather than written six times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import StringConstraints
from pydantic import TypeAdapter
from pydantic import WithJsonSchema
from pydantic import create_model
from typing_extensions import TypedDict

from oauth_server import ids
from oauth_server import text as stored_text
from oauth_server.models import Channel
from oauth_server.models import Contact
from oauth_server.models import Conversation
from oauth_server.models import Inbox
from oauth_server.models import OwnedResource
from oauth_server.models import Rule
from oauth_server.models import Tag
from oauth_server.services import shifts

# Request bodies: unknown fields and loose types ("5" for 5, 1 for true) are errors.
INPUT = ConfigDict(extra="forbid", strict=True)
OUTPUT = ConfigDict(from_attributes=True)


def _single_line(value: str) -> str:
    broken = stored_text.problem(value)
    if broken:
        raise ValueError(broken)
    return value


def _multi_line(value: str) -> str:
    broken = stored_text.problem(value, multiline=True)
    if broken:
        raise ValueError(broken)
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def text(
    max_length: int, *, strip: bool = True, pattern: str | None = None, multiline: bool = False
) -> Any:
    """A required string of 1..``max_length`` characters, without control characters
    (oauth_server/text.py): a multi-line one keeps tabs and line breaks.

    Names and addresses drop surrounding spaces; a message body is kept as written but
    may not be blank.
    """
    checks = [AfterValidator(_multi_line if multiline else _single_line)]
    if not strip:
        checks.append(AfterValidator(_not_blank))
    return Annotated[
        str,
        StringConstraints(
            strip_whitespace=strip, min_length=1, max_length=max_length, pattern=pattern
        ),
        *checks,
    ]


Id = Annotated[int, Field(ge=1, le=ids.ID_MAX)]
Email = text(320, pattern=r"^[^@\s]+@[^@\s]+$")


def _without_default(schema: dict[str, Any]) -> None:
    # PATCH: an absent field stays as it is; "default: null" would say otherwise.
    schema.pop("default", None)


@dataclass(frozen=True)
class Option:
    """An optional field of one collection."""

    input: Any  # the request type (constraints included)
    output: Any  # the response type
    description: str
    default: Any = None  # on create, when the field is left out


@dataclass(frozen=True)
class Collection:
    """One resource collection of the API: its model, routes' names and fields."""

    name: str  # URL segment: "inboxes"
    singular: str  # endpoint names: "api.get_inbox"
    model: type[OwnedResource]
    title: str  # "name", or "subject" for conversations
    title_max: int
    options: dict[str, Option] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.singular.capitalize()


CHANNEL_TYPES = Literal["email", "sms", "whatsapp", "chat", "phone", "custom"]
CONVERSATION_STATUSES = Literal["open", "assigned", "archived", "snoozed"]

COLLECTIONS: dict[str, Collection] = {
    c.name: c
    for c in (
        Collection(
            "inboxes",
            "inbox",
            Inbox,
            "name",
            200,
            {"address": Option(Email | None, str | None, "E-mail address of the inbox.")},
        ),
        Collection(
            "channels",
            "channel",
            Channel,
            "name",
            200,
            {
                "type": Option(CHANNEL_TYPES, str, "Kind of channel.", "email"),
                "address": Option(
                    text(320) | None, str | None, "Address on that channel (e-mail, number...)."
                ),
            },
        ),
        Collection(
            "conversations",
            "conversation",
            Conversation,
            "subject",
            500,
            {"status": Option(CONVERSATION_STATUSES, str, "Where the conversation is.", "open")},
        ),
        Collection(
            "contacts",
            "contact",
            Contact,
            "name",
            200,
            {
                "handle": Option(
                    text(320) | None, str | None, "How to reach the contact (e-mail, phone...)."
                ),
                "description": Option(
                    text(10_000, multiline=True) | None, str | None, "Free-form notes."
                ),
            },
        ),
        Collection(
            "tags",
            "tag",
            Tag,
            "name",
            200,
            {"highlight": Option(text(20) | None, str | None, "Colour of the tag, e.g. blue.")},
        ),
        Collection(
            "rules",
            "rule",
            Rule,
            "name",
            200,
            {
                "description": Option(
                    text(10_000, multiline=True) | None, str | None, "What the rule does."
                ),
                "enabled": Option(bool, bool, "Whether the rule runs.", True),
            },
        ),
    )
}

OWNER_FIELDS = ("team_id", "owner_id")
# Fields a client sees but never sends.
READ_ONLY_FIELDS = frozenset(
    {"id", "team_id", "owner_id", "created_at", "updated_at", "conversation_id", "author_id"}
)

_TEAM_ID = "The owning team: a team item. Give this or owner_id, not both."
_OWNER_ID = "The owning teammate: a private item. Give this or team_id, not both."


def _create_model(c: Collection) -> type[BaseModel]:
    fields: dict[str, Any] = {
        c.title: (text(c.title_max), Field(description=f"The {c.singular}'s {c.title}.")),
        "team_id": (Id | None, Field(default=None, description=_TEAM_ID)),
        "owner_id": (Id | None, Field(default=None, description=_OWNER_ID)),
    }
    for name, option in c.options.items():
        fields[name] = (option.input, Field(default=option.default, description=option.description))
    return create_model(
        f"{c.label}Create",
        __config__=INPUT,
        __doc__=f"A new {c.singular}: owned by a team (team_id) or a teammate (owner_id).",
        **fields,
    )


def _update_model(c: Collection) -> type[BaseModel]:
    fields: dict[str, Any] = {
        c.title: (
            text(c.title_max),
            Field(default=None, json_schema_extra=_without_default, description=f"New {c.title}."),
        )
    }
    for name, option in c.options.items():
        fields[name] = (
            option.input,
            Field(default=None, json_schema_extra=_without_default, description=option.description),
        )
    return create_model(
        f"{c.label}Update",
        __config__=INPUT,
        __doc__=f"Changes to one {c.singular}; fields left out stay as they are. "
        "The owner (team_id, owner_id) cannot change.",
        **fields,
    )


def _output_model(c: Collection) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "id": (int, ...),
        c.title: (str, ...),
        "team_id": (int | None, Field(description="The owning team, or null for a private item.")),
        "owner_id": (
            int | None,
            Field(description="The owning teammate of a private item, or null."),
        ),
        "created_at": (datetime, Field(description="ISO 8601, UTC.")),
        "updated_at": (datetime, Field(description="ISO 8601, UTC.")),
    }
    for name, option in c.options.items():
        fields[name] = (option.output, Field(description=option.description))
    return create_model(
        c.label,
        __config__=OUTPUT,
        __doc__=f"A team or private {c.singular}.",
        **fields,
    )


CREATE_MODELS: dict[str, type[BaseModel]] = {n: _create_model(c) for n, c in COLLECTIONS.items()}
UPDATE_MODELS: dict[str, type[BaseModel]] = {n: _update_model(c) for n, c in COLLECTIONS.items()}
OUTPUT_MODELS: dict[str, type[BaseModel]] = {n: _output_model(c) for n, c in COLLECTIONS.items()}


class MessageCreate(BaseModel):
    """A new message in a conversation."""

    model_config = INPUT

    body: text(100_000, strip=False, multiline=True) = Field(description="The message text.")  # type: ignore[valid-type]


class Message(BaseModel):
    """A message of a conversation."""

    model_config = OUTPUT

    id: int
    conversation_id: int
    body: str
    author_id: int | None = Field(
        description="The teammate who wrote it, or null (written through a personal token)."
    )
    created_at: datetime = Field(description="ISO 8601, UTC.")


class Team(BaseModel):
    """A team of the company."""

    model_config = OUTPUT

    id: int = Field(description="The id that team:<id> scopes name.")
    name: str
    teammate_ids: list[int] = Field(description="Ids of the team's members.")
    created_at: datetime = Field(description="ISO 8601, UTC.")


class Teammate(BaseModel):
    """A teammate of the company."""

    model_config = OUTPUT

    id: int
    email: str
    name: str
    active: bool = Field(description="False once the teammate was deactivated.")


class MeCompany(BaseModel):
    id: int
    name: str


class MeApp(BaseModel):
    client_id: str
    name: str


class MeTeammate(BaseModel):
    id: int
    email: str


class Me(BaseModel):
    """The token that made the request."""

    kind: Literal["personal", "oauth"]
    scopes: list[str] = Field(description="The scopes the token reaches now.")
    company: MeCompany
    app: MeApp | None = Field(description="The partner app of an OAuth token, else null.")
    teammate: MeTeammate | None = Field(
        description="Who created the personal token, or who granted the partner token."
    )


def dump(model: type[BaseModel], obj: Any) -> dict[str, Any]:
    """``obj`` (a row or a mapping) as JSON-ready data, through its response model."""
    return model.model_validate(obj).model_dump(mode="json")


class _Next(TypedDict):
    next: str | None


class RowDumper:
    """Pages of one response model for lists, from rows of its ``fields``, in that order.

    A list writes out rows just read from the database (``services.resources.item_page``
    selects exactly ``fields``); validating each into a model only to dump it again cost
    more than the query. pydantic still writes the values, with the model's field types,
    and writes the whole page in one call, keys in sorted order. The bytes are Flask's
    JSON of what ``dump`` gives (sorted keys, ASCII only, compact, a final newline), as
    tests/api/test_list_bodies.py checks: 50 rows take 88 us, against 152 us for a dict
    per row encoded again by Flask.
    """

    def __init__(self, model: type[BaseModel]) -> None:
        # In sorted order: pydantic writes a TypedDict's keys in the order of the dict.
        self.fields = tuple(sorted(model.model_fields))
        types = {name: model.model_fields[name].annotation for name in self.fields}
        row = TypedDict(f"{model.__name__}Row", types)  # type: ignore[misc]
        envelope = {"_pagination": _Next, "_results": list[row]}
        self._page: TypeAdapter[Any] = TypeAdapter(
            TypedDict(f"{model.__name__}Page", envelope)  # type: ignore[operator]
        )

    def page(self, rows: Iterable[Iterable[Any]], next_url: str | None) -> bytes:
        data: dict[str, Any] = {
            "_pagination": {"next": next_url},
            "_results": [dict(zip(self.fields, row, strict=True)) for row in rows],
        }
        body = self._page.dump_json(data, ensure_ascii=True)
        # Python's json escapes DEL as well; it can only stand inside a string.
        return body.replace(b"\x7f", b"\\u007f") + b"\n"


# --- provisioning: shifts --------------------------------------------------------------

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _time_of(check: Any, rule: str) -> Any:
    def validate(value: str) -> str:
        if not check(value):
            raise ValueError(rule)
        return value

    return validate


# Checked by the service's own rule (a readable message, not a regex), documented as a pattern.
StartTime = Annotated[
    str,
    AfterValidator(_time_of(shifts.is_start_time, shifts.START_RULE)),
    WithJsonSchema({"type": "string", "pattern": shifts.START_PATTERN}),
]
EndTime = Annotated[
    str,
    AfterValidator(_time_of(shifts.is_end_time, shifts.END_RULE)),
    WithJsonSchema({"type": "string", "pattern": shifts.END_PATTERN}),
]
TimeZoneName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=shifts.TIMEZONE_MAX),
    Field(
        description='An IANA time zone name, spelled as in the tz database: "Europe/Paris", '
        '"America/New_York", "UTC".',
        examples=["Europe/Paris"],
    ),
]


class TimeRange(BaseModel):
    """One weekly time range of a shift, in the shift's time zone."""

    model_config = INPUT

    day: Day = Field(description="Day of the week.")
    start: StartTime = Field(description='"HH:MM", 00:00 to 23:59.', examples=["09:00"])
    end: EndTime = Field(
        description='"HH:MM", after start; "24:00" is the end of the day. A range that '
        "runs past midnight is two ranges, one on each day.",
        examples=["17:30"],
    )


Ranges = Annotated[
    list[TimeRange],
    Field(
        max_length=shifts.RANGES_MAX,
        description=f"Weekly time ranges, at most {shifts.RANGES_MAX}; ranges of one "
        "day may touch but not overlap. Stored sorted by day, then start.",
    ),
]
TeammateIds = Annotated[
    list[Id],
    Field(
        max_length=shifts.TEAMMATES_MAX,
        description="Ids of the company's teammates who work this shift (repeats are ignored).",
    ),
]


class ShiftCreate(BaseModel):
    """A new shift."""

    model_config = INPUT

    name: text(shifts.NAME_MAX) = Field(description="The shift's name.")  # type: ignore[valid-type]
    timezone: TimeZoneName
    ranges: Ranges
    teammate_ids: TeammateIds = Field(default_factory=list)


class ShiftUpdate(BaseModel):
    """Changes to a shift; fields left out stay as they are, lists are replaced whole."""

    model_config = INPUT

    # default None marks "left out" (dumped with exclude_unset); null itself is refused.
    name: text(shifts.NAME_MAX) = Field(  # type: ignore[valid-type]
        default=None, json_schema_extra=_without_default, description="New name."
    )
    timezone: TimeZoneName = Field(default=None, json_schema_extra=_without_default)  # type: ignore[assignment]
    ranges: Ranges = Field(default=None, json_schema_extra=_without_default)  # type: ignore[arg-type]
    teammate_ids: TeammateIds = Field(default=None, json_schema_extra=_without_default)  # type: ignore[arg-type]


class Shift(BaseModel):
    """Working hours of some teammates: weekly time ranges in one time zone."""

    model_config = OUTPUT

    id: int
    name: str
    timezone: str = Field(description="IANA time zone name.")
    ranges: list[TimeRange]
    teammate_ids: list[int] = Field(description="Ids of the teammates who work this shift.")
    created_at: datetime = Field(description="ISO 8601, UTC.")
