"""Who a company's admins are: the active ones, of that company only."""

from __future__ import annotations

from oauth_server.extensions import db
from oauth_server.services import admins
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_teammate


def test_the_active_admins_of_a_company_are_its_active_admins_only() -> None:
    acme, other = make_company(), make_company()
    first, second = make_admin(acme), make_admin(acme)
    make_teammate(acme)  # not an admin
    make_admin(other)  # another company's
    deactivated = make_admin(acme)
    deactivated.active = False
    db.session.commit()

    assert admins.active_admins(acme.id) == [first, second]
    assert admins.active_admins(make_company().id) == []
