from __future__ import annotations

import pytest
from flask import Flask

from tests.isolation import IsolatedClient
from tests.isolation import isolated_client


@pytest.fixture
def client(app: Flask) -> IsolatedClient:
    return isolated_client(app)
