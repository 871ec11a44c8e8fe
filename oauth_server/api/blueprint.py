"""The API blueprint and what every API request goes through: bearer authentication, the
rate-limit budgets, and the JSON error answers."""

from __future__ import annotations

from flask import Blueprint
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from oauth_server import ids
from oauth_server import logs
from oauth_server import ratelimits
from oauth_server.api import errors
from oauth_server.api import protect
from oauth_server.errors import DomainError
from oauth_server.extensions import read_without_transaction

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.openapi"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    # Runs before the blueprint's rules are added, which need the converter.
    state.app.url_map.converters["id"] = ids.IdConverter


@bp.before_request
def _authenticate() -> None:
    """Authenticate, then spend the caller's rate-limit budgets (they need the caller).

    A request that fails to authenticate spends its address's budget instead, so a
    client guessing tokens meets a 429 too.
    """
    from flask import request

    if request.endpoint in PUBLIC_ENDPOINTS:
        ratelimits.spend_api(None)
        return
    if request.method in SAFE_METHODS:
        read_without_transaction()
    principal = None
    try:
        principal = protect.authenticate()
    finally:
        ratelimits.spend_api(principal)
    logs.annotate(
        company_id=principal.company.id,
        client_id=principal.app.client_id if principal.app else None,
        token_id=principal.token_id,
    )


@bp.errorhandler(errors.ApiError)
def _api_error(error: errors.ApiError) -> Response:
    return errors.render(error)


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Response:
    return errors.render(errors.from_domain(error))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    response = errors.error_response(error.code or 500, None, error.description or "")
    if error.code == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response
