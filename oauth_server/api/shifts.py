"""``/shifts``: the company's shifts, managed with the provisioning scope."""

from __future__ import annotations

from typing import Any

from flask import Response

from oauth_server import scopes
from oauth_server.api import schemas
from oauth_server.api.pagination import page
from oauth_server.api.protect import current_principal
from oauth_server.api.registry import route
from oauth_server.api.validation import parse_body
from oauth_server.models import Shift
from oauth_server.services import shifts
from oauth_server.urls import external_url

PROVISIONING = (scopes.PROVISIONING,)
ONE = "/shifts/<id:shift_id>"
_RULES = (
    "timezone is an IANA name; ranges are {day, start, end} with end after start and no "
    "two ranges of one day overlapping; teammate_ids are teammates of the company. A "
    "broken rule is a 400 naming the field (timezone, ranges[1].end, teammate_ids...)."
)


def _serialize(shift: Shift) -> dict[str, Any]:
    return schemas.dump(
        schemas.Shift,
        {
            "id": shift.id,
            "name": shift.name,
            "timezone": shift.timezone,
            "ranges": shift.ranges,
            "teammate_ids": [teammate.id for teammate in shift.teammates],
            "created_at": shift.created_at,
        },
    )


@route(
    "/shifts",
    "GET",
    endpoint="list_shifts",
    summary="List the company's shifts, newest first",
    tag="shifts",
    scopes=PROVISIONING,
    response=schemas.Shift,
    paged=True,
)
def list_shifts() -> Response:
    return page(shifts.shifts(current_principal()), (Shift.company_id, Shift.id), _serialize)


@route(
    "/shifts",
    "POST",
    endpoint="create_shift",
    summary="Create a shift",
    tag="shifts",
    scopes=PROVISIONING,
    body=schemas.ShiftCreate,
    response=schemas.Shift,
    status=201,
    description=_RULES,
)
def create_shift() -> tuple[dict[str, Any], int, dict[str, str]]:
    body = parse_body(schemas.ShiftCreate)
    shift = shifts.create_shift(
        current_principal(),
        name=body.name,
        timezone=body.timezone,
        ranges=[r.model_dump() for r in body.ranges],
        teammate_ids=body.teammate_ids,
    )
    location = external_url("api.get_shift", shift_id=shift.id)
    return _serialize(shift), 201, {"Location": location}


@route(
    ONE,
    "GET",
    endpoint="get_shift",
    summary="Read one shift",
    tag="shifts",
    scopes=PROVISIONING,
    response=schemas.Shift,
)
def get_shift(shift_id: int) -> dict[str, Any]:
    return _serialize(shifts.get_shift(current_principal(), shift_id))


@route(
    ONE,
    "PATCH",
    endpoint="update_shift",
    summary="Change a shift",
    tag="shifts",
    scopes=PROVISIONING,
    body=schemas.ShiftUpdate,
    response=schemas.Shift,
    description="Fields left out stay as they are; ranges and teammate_ids are replaced "
    "whole. " + _RULES,
)
def update_shift(shift_id: int) -> dict[str, Any]:
    changes = parse_body(schemas.ShiftUpdate).model_dump(exclude_unset=True)
    return _serialize(shifts.update_shift(current_principal(), shift_id, changes))


@route(
    ONE,
    "DELETE",
    endpoint="delete_shift",
    summary="Delete a shift",
    tag="shifts",
    scopes=PROVISIONING,
    status=204,
)
def delete_shift(shift_id: int) -> Response:
    shifts.delete_shift(current_principal(), shift_id)
    return Response(status=204)
