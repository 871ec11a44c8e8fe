"""Company settings > Security log: the company's events, newest first, filtered, paged,
and exported (CSV, JSON Lines) as streamed downloads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

from flask import Response
from flask import current_app
from flask import render_template
from flask import request
from flask import stream_with_context
from flask_login import current_user

from oauth_server.errors import ValidationFailed
from oauth_server.services import security_log_reading as reading
from oauth_server.services.security_log import EVENT_TYPES
from oauth_server.settings.blueprints import bp
from oauth_server.settings.blueprints import cursor

PAGE_SIZE = 50
FILTER_ARGS = ("type", "token", "app", "teammate", "since", "until")
CSV_COLUMNS = (
    "id",
    "time",
    "type",
    "actor_kind",
    "actor_id",
    "actor_email",
    "door",
    "token_id",
    "grant_id",
    "app_client_id",
    "app_name",
    "ip",
    "details",
)
# A cell a spreadsheet would read as a formula (CSV injection): these first characters.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _filter_args() -> dict[str, Any]:
    """The request's filters as given, for the links that keep them."""
    kept: dict[str, Any] = {k: request.args.get(k) for k in FILTER_ARGS if request.args.get(k)}
    if request.args.getlist("type"):
        kept["type"] = [t for t in request.args.getlist("type") if t]
    return kept


def _error(problem: ValidationFailed) -> str:
    return f"{problem.field}: {problem.message}" if problem.field else problem.message


@bp.get("/security-log")
def security_log_page() -> tuple[str, int]:
    company = current_user.company
    error = None
    try:
        filters = reading.parse_filters(request.args)
    except ValidationFailed as problem:
        error = _error(problem)
        filters = None
    rows: list[Any] = []
    next_cursor = None
    before = cursor()
    if filters is not None:
        rows, next_cursor = reading.page(company.id, filters, before=before, limit=PAGE_SIZE)
    html = render_template(
        "settings/security_log.html",
        items=[reading.item(row) for row in rows],
        next_cursor=next_cursor,
        paged=before is not None,
        event_types=EVENT_TYPES,
        args=request.args,
        chosen_types=request.args.getlist("type"),
        filter_args=_filter_args(),
        error=error,
    )
    return html, 400 if error else 200


def _export(
    lines: Callable[[Iterator[dict[str, Any]]], Iterator[str]], mimetype: str, extension: str
) -> Response:
    """A streamed download of the events the request's filters keep, each written by
    ``lines`` as an ``item``; a plain-text 400 for a bad filter."""
    try:
        filters = reading.parse_filters(request.args)
    except ValidationFailed as problem:
        return Response(_error(problem) + "\n", status=400, mimetype="text/plain")
    company_id = current_user.company.id
    rows = reading.rows_for_export(company_id, filters)
    body = lines(reading.item(row) for row in rows)
    response = Response(stream_with_context(body), mimetype=mimetype)
    filename = f"security-log-{company_id}.{extension}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def safe_cell(value: Any) -> str:
    """A CSV cell no spreadsheet app runs as a formula: one starting with =, +, -, @ (or
    a tab or carriage return) gets a leading apostrophe (OWASP's advice)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_row(item: dict[str, Any]) -> list[str]:
    actor, app = item["actor"], item["app"] or {}
    values = (
        item["id"],
        item["time"],
        item["type"],
        actor["kind"],
        actor.get("id"),
        actor.get("email"),
        item["door"],
        item["token_id"],
        item["grant_id"],
        app.get("client_id"),
        app.get("name"),
        item["ip"],
        json.dumps(item["details"], sort_keys=True) if item["details"] else "",
    )
    return [safe_cell(v) for v in values]


def _csv_lines(items: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerow(csv_row(item))
        if buffer.tell() > 16384:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _jsonl_lines(items: Iterator[dict[str, Any]]) -> Iterator[str]:
    dumps = current_app.json.dumps
    for item in items:
        yield dumps(item) + "\n"


@bp.get("/security-log/export.csv")
def security_log_csv() -> Response:
    return _export(_csv_lines, "text/csv", "csv")


@bp.get("/security-log/export.jsonl")
def security_log_jsonl() -> Response:
    return _export(_jsonl_lines, "application/jsonl", "jsonl")
