"""The read-only choice of New Token, clicked through in Chromium: the token list shows the
level, and the token reads but does not write."""

from __future__ import annotations

import pytest
import requests

from tests.browser.pages import log_in
from tests.browser.pages import open_api_settings

pytestmark = pytest.mark.browser

LABEL = "Shared resources (read only)"


def test_choose_shared_read_only_and_see_the_level_in_the_token_list(
    page, live_server, artifacts, company, admin
):
    log_in(page, admin.email)

    open_api_settings(page)
    page.get_by_role("link", name="New Token", exact=True).click()
    page.get_by_label("Name", exact=True).fill("Reporting")
    page.get_by_role("radio", name=LABEL, exact=True).check()
    page.get_by_role("button", name="Create", exact=True).click()

    row = page.get_by_role("row").filter(has_text="Reporting")
    assert LABEL in row.inner_text()
    page.screenshot(path=str(artifacts / "token-list-read-only.png"), full_page=True)
    row.get_by_role("link", name="Reporting").click()
    assert page.get_by_role("cell", name=LABEL, exact=True).is_visible()
    value = page.get_by_label("Token", exact=True).input_value()

    api = f"{live_server.url}/api/v1"
    headers = {"Authorization": f"Bearer {value}"}
    assert requests.get(f"{api}/inboxes", headers=headers, timeout=10).status_code == 200
    refused = requests.post(f"{api}/inboxes", json={"name": "x"}, headers=headers, timeout=10)
    assert refused.status_code == 403
    assert 'scope="shared"' in refused.headers["WWW-Authenticate"]
    assert page.problems == []
