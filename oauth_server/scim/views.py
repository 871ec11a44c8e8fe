"""``/scim/v2`` routes: read the SCIM request, call one service, answer in SCIM.

Wire format and validation are scim2-models': payloads are validated in the RFC 7644
context of the request (creation, replacement, PATCH, search), PATCH operations are
applied by ``PatchOp.patch`` to the resource as we serve it, and the changed fields are
written back through ``services.teammates`` and ``services.teams``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from typing import TypeVar

from flask import current_app
from flask import request
from scim2_models import Context
from scim2_models import Group
from scim2_models import ListResponse
from scim2_models import PatchOp
from scim2_models import Path
from scim2_models import Resource
from scim2_models import ResponseParameters
from scim2_models import ScimPolicy
from scim2_models import SearchRequest
from scim2_models import User
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from oauth_server import ids
from oauth_server.errors import NotFound as DomainNotFound
from oauth_server.errors import ValidationFailed
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.scim import discovery
from oauth_server.scim import errors
from oauth_server.scim import filters
from oauth_server.scim import listing
from oauth_server.scim import mapping
from oauth_server.scim.blueprint import bp
from oauth_server.scim.blueprint import current_principal
from oauth_server.services import password_links
from oauth_server.services import teammates
from oauth_server.services import teams
from oauth_server.services.revocation import Via
from oauth_server.urls import external_url

SCIM_JSON = "application/scim+json"
ACCEPTED_BODIES = (SCIM_JSON, "application/json")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# Tolerances for what identity providers send (scim2-models' ScimPolicy): Entra removes
# members with a "value" instead of a path filter, and adds to a filtered path
# (emails[type eq "work"].value) the entry it describes.
# Strings compare as stored keys do (NFC, case folded unless caseExact): a filter
# evaluated in Python agrees with its SQL translation.
POLICY = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
    comparison_key=filters.comparison_key,
)


# --- wire helpers ------------------------------------------------------------------------


def respond(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A SCIM answer; ``application/json`` only for a client that asks for it over SCIM's."""
    best = request.accept_mimetypes.best_match((SCIM_JSON, "application/json"))
    mimetype = "application/json" if best == "application/json" else SCIM_JSON
    body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
    response = current_app.response_class(body, status=status, mimetype=mimetype)
    if payload is None:
        del response.headers["Content-Type"]  # 204: no body, no media type
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def base_url() -> str:
    return external_url("scim.service_provider_config").rsplit("/", 1)[0]


def read_body() -> Any:
    """The JSON document of the request: 415 for another media type, 400 for bad JSON."""
    if request.mimetype and request.mimetype not in ACCEPTED_BODIES:
        raise errors.ScimError(415, "Send the body as application/scim+json or application/json.")
    raw = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH
    if not raw.strip():
        raise errors.invalid_syntax("The request has no body.")
    try:
        document = json.loads(raw)
        # JSON escapes can spell lone surrogates, which no database column can hold.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise errors.invalid_syntax("The request body is not valid Unicode.") from None
    except (ValueError, RecursionError):
        raise errors.invalid_syntax("The request body is not valid JSON.") from None
    return document


def _query(*names: str) -> dict[str, str]:
    """The named query parameters, whatever their case (``startindex`` is ``startIndex``)."""
    wanted = {name.lower(): name for name in names}
    return {
        wanted[key.lower()]: value for key, value in request.args.items() if key.lower() in wanted
    }


def _check_attribute_names(model: type[Resource[Any]], params: ResponseParameters[Any]) -> None:
    for path in [*(params.attributes or []), *(params.excluded_attributes or [])]:
        if Path[model](str(path)).resolve() is None:  # type: ignore[valid-type]
            raise errors.invalid_value(f"Unknown attribute {str(path)[:80]!r}.")


def response_parameters(model: type[Resource[Any]]) -> ResponseParameters[Any]:
    """``attributes`` / ``excludedAttributes`` of the query string (RFC 7644 §3.9)."""
    params: ResponseParameters[Any] = ResponseParameters.model_validate(
        _query("attributes", "excludedAttributes")
    )
    _check_attribute_names(model, params)
    return params


def dump(
    resource: Resource[Any], context: Context, params: ResponseParameters[Any]
) -> dict[str, Any]:
    return resource.model_dump(scim_ctx=context, response_parameters=params)


def _validated(model: type[Any], payload: Any, context: Context) -> Any:
    return model.model_validate(payload, scim_ctx=context, scim_policy=POLICY)


# --- lists -------------------------------------------------------------------------------


def _search(
    model: type[Resource[Any]],
    query: Any,
    to_sql: Any,
    to_resource: Any,
) -> Response:
    """A filtered, paged list (RFC 7644 §3.4.2): ``filter``, ``startIndex``, ``count``."""
    params = SearchRequest[model].model_validate(  # type: ignore[valid-type]
        _query("filter", "startIndex", "count", "attributes", "excludedAttributes"),
        scim_ctx=Context.SEARCH_REQUEST,
    )
    _check_attribute_names(model, params)
    # Past the last row anyway, and small enough for any database's OFFSET.
    start = min(params.start_index or 1, ids.ID_MAX)
    count = discovery.DEFAULT_COUNT if params.count is None else params.count
    count = min(count, discovery.MAX_RESULTS)
    company = current_principal().company
    base = base_url()
    try:
        condition = to_sql(params.filter) if params.filter else None
        rows, total = listing.page(query(company), condition, offset=start - 1, limit=count)
        resources = [to_resource(row, base) for row in rows]
    except filters.Untranslatable:
        # A computed attribute (name.givenName, $ref...): scim2-models decides per resource.
        everything = [to_resource(row, base) for row in listing.every_row(query(company))]
        matching = [r for r in everything if params.filter.match(r)]  # type: ignore[union-attr]
        total, resources = len(matching), matching[start - 1 : start - 1 + count]
    found = ListResponse[model](  # type: ignore[valid-type]
        total_results=total,
        start_index=start,
        items_per_page=len(resources),
        resources=resources,
    )
    return respond(found.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=params))


VIA = Via.SCIM.value
R = TypeVar("R")


def _id(raw: str) -> int | None:
    """A row id from a URL or a ``value``: at most 10 digits (those of ID_MAX)."""
    return ids.parse_id(str(raw), digits=10)


def _user(user_id: str) -> Teammate:
    return _in_company(teammates.in_company, user_id, "user")


def _group(group_id: str) -> Team:
    return _in_company(teams.in_company, group_id, "group")


def _in_company(find: Callable[[Any, int | None], R], raw_id: str, what: str) -> R:
    """The caller's company's row of this id, or SCIM's 404 naming the resource type."""
    try:
        return find(current_principal().company, _id(raw_id))
    except DomainNotFound:
        raise errors.not_found(what) from None


# --- Users -------------------------------------------------------------------------------


def answer(
    resource: Resource[Any], params: ResponseParameters[Any], context: Context, status: int = 200
) -> Response:
    """One resource, as ``attributes``/``excludedAttributes`` ask, with its Location."""
    headers = {"Location": str(resource.meta.location)} if resource.meta else {}
    return respond(dump(resource, context, params), status, headers)


@bp.get("/Users")
def list_users() -> Response:
    return _search(User, teammates.of_company, filters.user_condition, mapping.to_user)


@bp.post("/Users")
def create_user() -> Response:
    params = response_parameters(User)  # checked before anything is written
    payload = mapping.drop_ignored_extensions(read_body())
    user = _validated(User, payload, Context.RESOURCE_CREATION_REQUEST)
    fields = mapping.user_fields(user)
    company = current_principal().company
    teammate = teammates.provision_teammate(
        company,
        user_name=fields.user_name or "",
        emails=fields.emails,
        external_id=fields.external_id or "",
        names=fields.names,
        active=True if fields.active is None else fields.active,
        admin=bool(fields.admin),
    )
    password_links.invite_provisioned(teammate)  # unless the company turned it off
    return answer(
        mapping.to_user(teammate, base_url()), params, Context.RESOURCE_CREATION_RESPONSE, 201
    )


def _update(teammate: Teammate, fields: mapping.UserFields) -> None:
    teammates.update_identity(
        teammate,
        user_name=fields.user_name,
        emails=fields.emails,
        external_id=fields.external_id,
        names=fields.names,
        active=fields.active,
        admin=fields.admin,
    )


@bp.get("/Users/<user_id>")
def get_user(user_id: str) -> Response:
    params = response_parameters(User)
    teammate = _user(user_id)
    return answer(mapping.to_user(teammate, base_url()), params, Context.RESOURCE_QUERY_RESPONSE)


@bp.put("/Users/<user_id>")
def replace_user(user_id: str) -> Response:
    params = response_parameters(User)
    teammate = _user(user_id)
    payload = mapping.drop_ignored_extensions(read_body())
    user = _validated(User, payload, Context.RESOURCE_REPLACEMENT_REQUEST)
    user.replace(mapping.to_user(teammate, base_url()))  # read-only values kept
    fields = mapping.user_fields(user)
    _update(teammate, fields)
    return answer(
        mapping.to_user(teammate, base_url()), params, Context.RESOURCE_REPLACEMENT_RESPONSE
    )


@bp.patch("/Users/<user_id>")
def patch_user(user_id: str) -> Response:
    params = response_parameters(User)
    teammate = _user(user_id)
    payload, anything_left = mapping.drop_ignored_operations(read_body())
    if anything_left:
        # User without extensions: User[Any] would build another pydantic model at run time.
        patch = _validated(PatchOp[User], payload, Context.RESOURCE_PATCH_REQUEST)  # type: ignore[type-arg]
        before = mapping.to_user(teammate, base_url())
        after = before.model_copy(deep=True)
        if patch.patch(after, scim_policy=POLICY):
            fields = mapping.patched_user_fields(before, after)
            _update(teammate, fields)
    return answer(mapping.to_user(teammate, base_url()), params, Context.RESOURCE_PATCH_RESPONSE)


@bp.delete("/Users/<user_id>")
def delete_user(user_id: str) -> Response:
    teammate = _user(user_id)
    teammates.delete_teammate(teammate, via=Via.SCIM)
    return respond(None, 204)


# --- Groups ------------------------------------------------------------------------------


@bp.get("/Groups")
def list_groups() -> Response:
    return _search(Group, teams.of_company, filters.group_condition, mapping.to_group)


def _group_fields(group: Group, before: Group | None = None) -> mapping.GroupFields:
    try:
        if before is None:
            return mapping.group_fields(group)
        return mapping.patched_group_fields(before, group)
    except ValueError as exc:
        raise errors.invalid_value(str(exc)) from None


def _members(member_ids: list[str] | None) -> list[Teammate] | None:
    """The teammates a group's ``members`` name by id (SCIM sends the ids as strings)."""
    if member_ids is None:
        return None
    numbers = []
    for raw in member_ids:
        number = _id(raw)
        if number is None:
            raise ValidationFailed(f"No user with id {str(raw)[:40]!r}.", field="members")
        numbers.append(number)
    return teams.members(current_principal().company, numbers)


@bp.post("/Groups")
def create_group() -> Response:
    params = response_parameters(Group)
    group = _validated(Group, read_body(), Context.RESOURCE_CREATION_REQUEST)
    fields = _group_fields(group)
    team = teams.create_team(
        current_principal().company,
        name=fields.name or "",
        members=_members(fields.member_ids) or [],
        external_id=fields.external_id or "",
        via=VIA,
    )
    return answer(
        mapping.to_group(team, base_url()), params, Context.RESOURCE_CREATION_RESPONSE, 201
    )


@bp.get("/Groups/<group_id>")
def get_group(group_id: str) -> Response:
    params = response_parameters(Group)
    team = _group(group_id)
    return answer(mapping.to_group(team, base_url()), params, Context.RESOURCE_QUERY_RESPONSE)


def _update_group(team: Team, fields: mapping.GroupFields) -> None:
    """Write what a PUT or PATCH of a group changes (None leaves a field)."""
    teams.update_team(
        team,
        name=fields.name,
        members=_members(fields.member_ids),
        external_id=fields.external_id,
        via=VIA,
    )


@bp.put("/Groups/<group_id>")
def replace_group(group_id: str) -> Response:
    params = response_parameters(Group)
    team = _group(group_id)
    group = _validated(Group, read_body(), Context.RESOURCE_REPLACEMENT_REQUEST)
    group.replace(mapping.to_group(team, base_url()))
    _update_group(team, _group_fields(group))
    return answer(mapping.to_group(team, base_url()), params, Context.RESOURCE_REPLACEMENT_RESPONSE)


@bp.patch("/Groups/<group_id>")
def patch_group(group_id: str) -> Response:
    params = response_parameters(Group)
    team = _group(group_id)
    patch = _validated(PatchOp[Group], read_body(), Context.RESOURCE_PATCH_REQUEST)
    before = mapping.to_group(team, base_url())
    after = before.model_copy(deep=True)
    if patch.patch(after, scim_policy=POLICY):
        _update_group(team, _group_fields(after, before))
    return answer(mapping.to_group(team, base_url()), params, Context.RESOURCE_PATCH_RESPONSE)


@bp.delete("/Groups/<group_id>")
def delete_group(group_id: str) -> Response:
    team = _group(group_id)
    teams.delete_team(team, via=Via.SCIM)
    return respond(None, 204)


# --- discovery (RFC 7644 §4) -------------------------------------------------------------


def _no_filter() -> None:
    # RFC 7644 §4: a filter on a discovery endpoint SHOULD get 403, so that no client
    # takes an unfiltered answer for a filtered one.
    if _query("filter"):
        raise errors.ScimError(403, "Discovery endpoints take no filter.")


def _listed(resources: list[Any]) -> Response:
    model: Any = type(resources[0])
    found = ListResponse[model](
        total_results=len(resources),
        start_index=1,
        items_per_page=len(resources),
        resources=resources,
    )
    return respond(found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@bp.get("/ServiceProviderConfig")
def service_provider_config() -> Response:
    _no_filter()
    config = discovery.service_provider_config(base_url())
    return respond(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@bp.get("/ResourceTypes")
def resource_types() -> Response:
    _no_filter()
    return _listed(discovery.resource_types(base_url()))


@bp.get("/ResourceTypes/<name>")
def resource_type(name: str) -> Response:
    for item in discovery.resource_types(base_url()):
        if str(item.id) == name:
            return respond(item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    raise errors.not_found("resource type")


@bp.get("/Schemas")
def schemas() -> Response:
    _no_filter()
    return _listed(discovery.schemas(base_url()))


@bp.get("/Schemas/<schema_id>")
def schema(schema_id: str) -> Response:
    for item in discovery.schemas(base_url()):
        if str(item.id).lower() == schema_id.lower():
            return respond(item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    raise errors.not_found("schema")


# --- everything else ---------------------------------------------------------------------


@bp.route("/Me", methods=METHODS)
@bp.route("/Bulk", methods=METHODS)
@bp.route("/.search", methods=METHODS)
@bp.route("/<path:kind>/.search", methods=METHODS)
def not_implemented(kind: str | None = None) -> Response:
    # RFC 7644 §3.11, §3.7, §3.4.3: what a server does not support is a 501.
    raise errors.ScimError(501, "Not supported by this server: see /ServiceProviderConfig.")


@bp.route("/", methods=METHODS, defaults={"rest": ""})
@bp.route("/<path:rest>", methods=METHODS)
def unknown(rest: str) -> Response:
    """A SCIM 404 for an unknown path, a SCIM 405 for a known path and another method.

    Werkzeug hands a known path with an unsupported method to this catch-all rule, so
    the allowed methods are found here by matching the path against the other rules.
    """
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except (NotFound, MethodNotAllowed):
            continue
        if endpoint != "scim.unknown":
            allowed.add(method)
    if allowed:
        raise errors.ScimError(
            405, "Method not allowed.", headers={"Allow": ", ".join(sorted(allowed))}
        )
    raise errors.not_found("endpoint")
