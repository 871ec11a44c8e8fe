"""The JSON API under ``/api/v1``: bearer tokens only, scopes enforced per route."""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from oauth_server.api import errors
from oauth_server.api import protect
from oauth_server.extensions import limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.openapi"}


@bp.before_request
def _authenticate() -> None:
    from flask import request

    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    protect.authenticate()


@bp.errorhandler(errors.ApiError)
def _api_error(error: errors.ApiError) -> Response:
    return errors.render(error)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    response = errors.error_response(error.code or 500, None, error.description or "")
    if error.code == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


limiter.limit(lambda: current_app.config["RATELIMIT_API"], key_func=protect.rate_limit_key)(bp)

from oauth_server.api import me  # noqa: E402,F401
