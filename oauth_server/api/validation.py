"""Reading a JSON request body into its pydantic model, or a 400/415 naming what is wrong."""

from __future__ import annotations

from typing import Any
from typing import TypeVar

from flask import request
from pydantic import BaseModel
from pydantic import ValidationError

from oauth_server.api import errors
from oauth_server.api.schemas import OWNER_FIELDS
from oauth_server.api.schemas import READ_ONLY_FIELDS

M = TypeVar("M", bound=BaseModel)


def is_json_request() -> bool:
    mimetype = request.mimetype
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def parse_body(model: type[M]) -> M:
    """The request body as ``model``; never lets a bad body through to a 500."""
    if not is_json_request():
        raise errors.ApiError(415, "Send a JSON body with 'Content-Type: application/json'.")
    try:
        return model.model_validate_json(request.get_data(cache=True))
    except ValidationError as exc:
        raise _as_api_error(exc) from None


def _as_api_error(exc: ValidationError) -> errors.ApiError:
    fields: dict[str, str] = {}
    for problem in exc.errors(include_url=False):
        kind = problem["type"]
        if kind == "json_invalid":
            return errors.ApiError(400, "The request body is not valid JSON.")
        if not problem["loc"]:
            return errors.ApiError(400, "The request body must be a JSON object.")
        name = field_name(problem["loc"])
        fields.setdefault(name, _message(name, kind, problem))
    return errors.validation(fields)


def field_name(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as the API names fields: ``ranges[1].end``."""
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name


def _message(name: str, kind: str, problem: Any) -> str:
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        if name in OWNER_FIELDS:
            return "cannot be changed: an item keeps its owner (create a new item instead)"
        if name in READ_ONLY_FIELDS:
            return "is read-only"
        return "is not a known field"
    message = str(problem["msg"])
    # "Value error, must not be blank" -> "must not be blank"
    return message.removeprefix("Value error, ")
