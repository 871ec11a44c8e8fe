"""Fixtures for the partner flow: a workspace, a registered partner app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from tests.conftest import LiveServer
from tests.factories import CompanyUnderTest
from tests.factories import Partner
from tests.factories import make_company_under_test
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
def company_under_test() -> CompanyUnderTest:
    return make_company_under_test(
        "Partnerco",
        teammates=({"email": "mate@partnerco.test"},),
        teams={
            "Support": ["admin@partnerco.test", "mate@partnerco.test"],
            "Sales": ["admin@partnerco.test"],
        },
        other={},
    )


@pytest.fixture
def workspace(company_under_test: CompanyUnderTest) -> Workspace:
    cut = company_under_test
    return Workspace(cut.company, cut.admin, cut.teammates[0], *cut.teams)


@pytest.fixture
def partner() -> Partner:
    return register()


@pytest.fixture
def public_partner() -> Partner:
    return register(public=True, name="Public App")
