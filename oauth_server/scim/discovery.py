"""What ``/ServiceProviderConfig``, ``/ResourceTypes`` and ``/Schemas`` say (RFC 7644 §4).

The schemas are scim2-models' own definitions of the core User and Group, trimmed to
the attributes this server stores (see ``mapping``), so a client can tell what sticks.
Three User attributes say more than RFC 7643's definitions: ``emails`` (with a
``value``) is required, as teammates sign in by e-mail (a userName that is an e-mail
address stands in for it); ``active`` is required, as every teammate is active or not
(it can be set, never removed); ``roles`` has one value, ``admin``.
"""

from __future__ import annotations

from typing import Any

from scim2_models import Attribute
from scim2_models import AuthenticationScheme
from scim2_models import Bulk
from scim2_models import ChangePassword
from scim2_models import ETag
from scim2_models import Filter
from scim2_models import Group
from scim2_models import Meta
from scim2_models import Pagination
from scim2_models import Patch
from scim2_models import Required
from scim2_models import ResourceType
from scim2_models import Schema
from scim2_models import ServiceProviderConfig
from scim2_models import Sort
from scim2_models import User

MAX_RESULTS = 200  # the largest page; a larger ``count`` is cut to it
DEFAULT_COUNT = 100

# Attribute -> the sub-attributes kept (None: a simple attribute).
STORED: dict[type[User[Any]] | type[Group], dict[str, set[str] | None]] = {
    User: {
        "userName": None,
        "name": {"formatted", "givenName", "familyName"},
        "displayName": None,
        "active": None,
        "emails": {"value", "type", "primary", "display"},
        "groups": {"value", "$ref", "display", "type"},
        "roles": {"value"},
    },
    Group: {
        "displayName": None,
        "members": {"value", "$ref", "type"},
    },
}


def service_provider_config(base_url: str) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        pagination=Pagination(
            index=True, cursor=False, default_page_size=DEFAULT_COUNT, max_page_size=MAX_RESULTS
        ),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description=(
                    "A personal API token with the Auto-provisioning (scim) scope, made by "
                    "an admin in Company settings > Plugins & API > API, sent as "
                    "'Authorization: Bearer <token>'. Scale plan only."
                ),
                primary=True,
            )
        ],
        meta=Meta(
            resource_type="ServiceProviderConfig", location=f"{base_url}/ServiceProviderConfig"
        ),
    )


def resource_types(base_url: str) -> list[ResourceType]:
    types = []
    for model in (User, Group):
        resource_type = ResourceType.from_resource(model)
        resource_type.meta = Meta(
            resource_type="ResourceType", location=f"{base_url}/ResourceTypes/{resource_type.id}"
        )
        types.append(resource_type)
    return types


# (attribute, sub-attribute or None) -> what this server says of it beyond RFC 7643.
AMENDED: dict[tuple[str, str | None], dict[str, Any]] = {
    ("emails", None): {"required": Required.true},
    ("emails", "value"): {"required": Required.true},
    ("active", None): {"required": Required.true},
    ("roles", "value"): {"canonical_values": ["admin"]},
}


def _amended(attribute: Attribute, parent: str | None = None) -> Attribute:
    key = (parent, attribute.name) if parent else (str(attribute.name), None)
    update = AMENDED.get(key)
    return attribute.model_copy(update=update) if update else attribute


def _trimmed(attribute: Attribute, keep: set[str] | None) -> Attribute:
    attribute = _amended(attribute)
    if keep is None or not attribute.sub_attributes:
        return attribute
    subs = [
        _amended(sub, str(attribute.name)) for sub in attribute.sub_attributes if sub.name in keep
    ]
    return attribute.model_copy(update={"sub_attributes": subs})


def schemas(base_url: str) -> list[Schema]:
    result = []
    for model, stored in STORED.items():
        schema = model.to_schema()
        attributes = [
            _trimmed(attribute, stored[str(attribute.name)])
            for attribute in schema.attributes or []
            if attribute.name in stored
        ]
        result.append(
            schema.model_copy(
                update={
                    "attributes": attributes,
                    "meta": Meta(
                        resource_type="Schema", location=f"{base_url}/Schemas/{schema.id}"
                    ),
                }
            )
        )
    return result
