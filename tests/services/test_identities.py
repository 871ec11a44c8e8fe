"""E-mail addresses are sign-in names: control characters never get in."""

from __future__ import annotations

import pytest

from oauth_server.errors import ValidationFailed
from oauth_server.services import identities


@pytest.mark.parametrize(
    "email", ["a\x00b@example.com", "ab@exa\x01mple.com", "ab@example.co\x7fm"]
)
def test_control_characters_are_refused(email):
    with pytest.raises(ValidationFailed) as caught:
        identities.normalize_email(email)
    assert caught.value.field == "email"


def test_addresses_are_stored_lower_case():
    assert identities.normalize_email("  Ada@Example.COM ") == "ada@example.com"
