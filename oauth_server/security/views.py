"""``POST /security/secret-scanning`` (GitHub, signed) and ``POST /security/report-leaked``
(anyone, rate-limited per address): both hand the strings to ``services.leaks``."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request
from werkzeug.exceptions import HTTPException

from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.extensions import limiter
from oauth_server.extensions import remote_address
from oauth_server.security import keys
from oauth_server.services import leaks

bp = Blueprint("security", __name__, url_prefix="/security")
log = logging.getLogger(__name__)

TYPE_MAX = 200  # a reported token type, echoed back
REPORTED_MAX = 1000  # a reported string: none of ours is longer than tokens.MAX_TOKEN_LENGTH
# The one answer of /security/report-leaked, whatever was reported: nothing in it may
# tell whether a string was a live token of ours.
ACCEPTED = {
    "status": "accepted",
    "message": "Thank you. Any live token of ours among them is revoked, and its owner told.",
}


class BadReport(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@bp.errorhandler(BadReport)
def _bad_report(error: BadReport) -> Any:
    return jsonify({"error": "invalid_request", "error_description": error.message}), 400


def _http_error(error: HTTPException) -> Any:
    """JSON for the refusals here, not the pages' HTML (Flask-Limiter keeps its headers)."""
    status = error.code or 500
    response = jsonify({"error": (error.name or "error").lower().replace(" ", "_")})
    return response, status


# By status: the app's handlers of these statuses would win over one for HTTPException.
for _status in (400, 404, 405, 413, 429):
    bp.register_error_handler(_status, _http_error)


def _refused() -> Any:
    return jsonify({"error": "invalid_signature"}), 401


@bp.post("/secret-scanning")
def secret_scanning() -> Any:
    """GitHub's secret-scanning partner call: a signed JSON list of ``token``, ``type``,
    ``url``, ``source``; the answer labels each token by its SHA-256."""
    body = request.get_data(cache=True)
    verified = keys.verify(
        keys.current_keys(current_app.config.get("SECRET_SCANNING_PUBLIC_KEYS")),
        request.headers.get("Github-Public-Key-Identifier"),
        request.headers.get("Github-Public-Key-Signature"),
        body,
    )
    if not verified:
        log.warning("secret scanning report refused: bad or missing signature")
        return _refused()
    items = _items(body)
    found = [
        leaks.Found(item["token"], url=item.get("url"), source=item.get("source")) for item in items
    ]
    labels = leaks.handle(found)
    db.session.commit()
    answer = [
        {
            # GitHub matches the answer by the token's SHA-256: our lookup hash.
            "token_hash": tokens.lookup_hash(item["token"]),
            "token_type": item.get("type"),
            "label": leaks.TRUE_POSITIVE if known else leaks.FALSE_POSITIVE,
        }
        for item, known in zip(items, labels, strict=True)
    ]
    log.info(
        "secret scanning report handled",
        extra={"reported": len(items), "true_positives": sum(labels)},
    )
    return jsonify(answer)


def _items(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeError):
        raise BadReport("The body must be a JSON list.") from None
    if not isinstance(data, list):
        raise BadReport("The body must be a JSON list.")
    if len(data) > leaks.MAX_ITEMS:
        raise BadReport(f"At most {leaks.MAX_ITEMS} tokens per report.")
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            raise BadReport('Each item must be an object with a "token" string.')
        for key, limit in (("type", TYPE_MAX), ("url", leaks.URL_MAX * 2), ("source", TYPE_MAX)):
            value = item.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise BadReport(f'"{key}" must be a string of at most {limit} characters.')
    return data


@bp.post("/report-leaked")
@limiter.limit(lambda: current_app.config["RATELIMIT_LEAK_REPORT"], key_func=remote_address)
def report_leaked() -> Any:
    """Anyone who found a token of ours: ``{"credentials": [...]}``, always 202."""
    data = request.get_json(silent=True)
    credentials = data.get("credentials") if isinstance(data, dict) else None
    if not isinstance(credentials, list):
        raise BadReport('The body must be a JSON object with a "credentials" list.')
    if len(credentials) > leaks.MAX_ITEMS:
        raise BadReport(f"At most {leaks.MAX_ITEMS} credentials per report.")
    if any(not isinstance(c, str) or len(c) > REPORTED_MAX for c in credentials):
        raise BadReport(f"Each credential must be a string of at most {REPORTED_MAX} characters.")
    leaks.handle(leaks.Found(value, source="report") for value in credentials)
    db.session.commit()
    log.info("leaked credentials reported", extra={"reported": len(credentials)})
    return jsonify(ACCEPTED), 202
