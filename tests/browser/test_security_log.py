"""Company settings > Security log in Chromium: the admin opens it from the settings menu,
filters by event type, and "Export CSV" downloads the filtered range."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from oauth_server.services import app_policy
from tests.browser.pages import log_in
from tests.browser.pages import open_security_log
from tests.factories import make_personal_token

pytestmark = pytest.mark.browser


def test_the_security_log_filters_and_exports_csv(
    page: Any, company: Any, admin: Any, artifacts: Any
) -> None:
    token, _ = make_personal_token(company, "shared", actor=admin, name="Zapier")
    app_policy.set_third_party_apps(company, "approved", actor=admin)

    log_in(page, admin.email)
    open_security_log(page)
    table = page.locator("#security-log")
    table.wait_for()
    assert table.locator("tbody tr").count() == 2
    first = table.locator("tbody tr").first.inner_text()
    assert "policy.changed" in first and "admin@acme.test" in first

    page.get_by_label("Event", exact=True).select_option("personal_token.created")
    page.get_by_role("button", name="Filter", exact=True).click()
    page.wait_for_url("**type=personal_token.created**")
    rows = page.locator("#security-log tbody tr")
    assert rows.count() == 1 and f"pt_{token.id}" in rows.first.inner_text()
    page.screenshot(path=str(artifacts / "security-log.png"), full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV", exact=True).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    text = open(download.path(), encoding="utf-8").read()
    table_rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["type"] for r in table_rows] == ["personal_token.created"]
    assert table_rows[0]["token_id"] == f"pt_{token.id}"
    assert table_rows[0]["actor_email"] == "admin@acme.test"
    assert page.problems == []
