"""The SCIM blueprint and what every SCIM request goes through: bearer authentication
with the scim scope, and SCIM Error documents for every refusal."""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import g
from pydantic import ValidationError
from scim2_models import SCIMException
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import default_exceptions
from werkzeug.wrappers import Response

from oauth_server import bearer
from oauth_server import protected_resources
from oauth_server import ratelimits
from oauth_server import scopes
from oauth_server.errors import DomainError
from oauth_server.extensions import db
from oauth_server.factory import DATABASE_ERRORS
from oauth_server.factory import database_error
from oauth_server.scim import errors
from oauth_server.services.principals import Principal

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")


@bp.before_request
def _authenticate() -> None:
    """401 without a live token, 403 without the scim scope or the Scale plan.

    Every request spends a budget once authentication is done: its token's, or its
    address's when it brought no token that authenticates (oauth_server/ratelimits.py).
    """
    principal = None
    try:
        principal = _authenticated()
    finally:
        ratelimits.spend_scim(principal)
    if not principal.has(scopes.SCIM):
        # The plan is checked at every request: leaving Scale stops SCIM at once.
        if scopes.SCIM in principal.granted_scopes and not principal.company.on_scale_plan:
            detail = "Auto-provisioning (SCIM) needs the Scale plan."
        else:
            detail = "This token needs the scim (Auto-provisioning) scope."
        raise errors.forbidden(detail, scopes.SCIM)
    g.scim_principal = principal


def _authenticated() -> Principal:
    try:
        # The API's rules: header only, one token.
        return bearer.authenticate(protected_resources.SCIM)
    except bearer.Refused as refusal:
        raise errors.refused(refusal) from None


def current_principal() -> Principal:
    principal: Principal = g.scim_principal
    return principal


def _render(error: errors.ScimError) -> Response:
    from oauth_server.scim.views import respond

    return respond(error.document(), error.status, error.response_headers())


@bp.errorhandler(errors.ScimError)
def _scim_error(error: errors.ScimError) -> Response:
    return _render(error)


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Response:
    db.session.rollback()
    return _render(errors.from_domain(error))


@bp.errorhandler(SCIMException)
def _library_error(error: SCIMException) -> Response:
    return _render(errors.from_library(error))


@bp.errorhandler(ValidationError)
def _validation_error(error: ValidationError) -> Response:
    return _render(errors.from_validation(error))


def _http_error(error: HTTPException) -> Response:
    return _render(errors.from_http(error))


# By status code, not only by class: Flask tries the app's handlers for a code (the HTML
# error pages) before any blueprint's handler for a class. Limits (429) and body sizes
# (413) are refused before or inside our views, and must still answer in SCIM.
bp.register_error_handler(HTTPException, _http_error)
for _code in default_exceptions:
    bp.register_error_handler(_code, _http_error)


# The database's errors get the app's one answer (a 503 for an outage, a 409 for a
# conflict, in SCIM's format here): named here, since Flask would otherwise find the
# catch-all below, a blueprint's handler, before the app's for their classes.
for _error_class in DATABASE_ERRORS:
    bp.register_error_handler(_error_class, database_error)


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    # Still a SCIM document for the client; the traceback goes to the log.
    current_app.logger.exception("SCIM request failed")
    db.session.rollback()
    return _render(errors.ScimError(500, "The server could not finish this request."))
