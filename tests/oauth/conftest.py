"""Fixtures for the partner flow: a workspace, a registered partner app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from tests.conftest import LiveServer
from tests.factories import Partner
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_team
from tests.factories import make_teammate
from tests.factories import register


@dataclass
class Workspace:
    company: Any
    admin: Any
    teammate: Any
    team: Any
    other_team: Any


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[LiveServer]:
    """One server for the area: stopping one costs half a second (its poll interval)."""
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def workspace() -> Workspace:
    company = make_company("Partnerco", plan="scale", teams_feature=True)
    admin = make_admin(company, email="admin@partnerco.test")
    teammate = make_teammate(company, email="mate@partnerco.test")
    team = make_team(company, "Support", members=[admin, teammate])
    other = make_team(company, "Sales", members=[admin])
    return Workspace(company, admin, teammate, team, other)


@pytest.fixture
def partner() -> Partner:
    return register()


@pytest.fixture
def public_partner() -> Partner:
    return register(public=True, name="Public App")
