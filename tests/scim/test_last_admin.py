"""SCIM never leaves a company without an active admin: 409 with a SCIM error saying why.

Acme's admin is its only admin. Deactivating, deleting or taking the admin role from them
(PUT or PATCH) is refused; with a second active admin, each is allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import make_admin
from tests.scim.conftest import Acme
from tests.scim.conftest import Scim
from tests.scim.conftest import assert_scim_error
from tests.scim.conftest import fresh
from tests.scim.conftest import new_user
from tests.scim.conftest import patch_op
from tests.scim.conftest import stored_teammates

Removal = Callable[[Scim, Acme], Any]

REMOVALS: dict[str, Removal] = {
    "PATCH active": lambda scim, acme: scim.patch(
        f"/Users/{acme.admin.id}", patch_op({"op": "replace", "path": "active", "value": False})
    ),
    "PATCH pathless active": lambda scim, acme: scim.patch(
        f"/Users/{acme.admin.id}", patch_op({"op": "replace", "value": {"active": "False"}})
    ),
    "PUT active": lambda scim, acme: scim.put(
        f"/Users/{acme.admin.id}", new_user("admin@acme.test", active=False)
    ),
    "DELETE": lambda scim, acme: scim.delete(f"/Users/{acme.admin.id}"),
    "PATCH remove roles": lambda scim, acme: scim.patch(
        f"/Users/{acme.admin.id}", patch_op({"op": "remove", "path": "roles"})
    ),
    "PATCH replace roles": lambda scim, acme: scim.patch(
        f"/Users/{acme.admin.id}",
        patch_op({"op": "replace", "path": "roles", "value": [{"value": "agent"}]}),
    ),
    "PUT roles": lambda scim, acme: scim.put(
        f"/Users/{acme.admin.id}", new_user("admin@acme.test", roles=[], active=True)
    ),
}


@pytest.mark.parametrize("removal", REMOVALS)
def test_the_last_active_admin_cannot_be_removed(scim: Scim, acme: Acme, removal: str) -> None:
    before = stored_teammates(acme.company)
    error = assert_scim_error(REMOVALS[removal](scim, acme), 409)
    assert "last active admin" in error["detail"]
    assert stored_teammates(acme.company) == before
    admin = fresh(acme.admin)
    assert admin.is_admin and admin.active


@pytest.mark.parametrize("removal", REMOVALS)
def test_with_another_active_admin_it_is_allowed(scim: Scim, acme: Acme, removal: str) -> None:
    make_admin(acme.company, email="second@acme.test")
    response = REMOVALS[removal](scim, acme)
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    admin = fresh(acme.admin)
    assert admin is None or not (admin.is_admin and admin.active)


def test_a_deactivated_admin_does_not_count(scim: Scim, acme: Acme) -> None:
    other = make_admin(acme.company, email="second@acme.test")
    deactivate = patch_op({"op": "replace", "path": "active", "value": False})
    assert scim.patch(f"/Users/{other.id}", deactivate).status_code == 200
    assert_scim_error(scim.patch(f"/Users/{acme.admin.id}", deactivate), 409)


def test_scim_shows_and_gives_the_admin_role(scim: Scim, acme: Acme) -> None:
    assert scim.get(f"/Users/{acme.admin.id}").get_json()["roles"] == [{"value": "admin"}]
    assert "roles" not in scim.get(f"/Users/{acme.bob.id}").get_json()
    grant = patch_op({"op": "add", "path": "roles", "value": [{"value": "admin"}]})
    assert scim.patch(f"/Users/{acme.bob.id}", grant).status_code == 200
    assert fresh(acme.bob).is_admin
    # A replacement that leaves roles out keeps the role.
    assert scim.put(f"/Users/{acme.bob.id}", new_user("bob@acme.test")).status_code == 200
    assert fresh(acme.bob).is_admin
