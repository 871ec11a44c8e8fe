"""What a person does on the server's pages, written once for every browser test."""

from __future__ import annotations

import re
from typing import Any

from tests.factories import PASSWORD


def log_in_form(page: Any, email: str) -> None:
    """Fill the login form this page shows: "Email", "Password", "Log in"."""
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()


def answer_next_dialog(page: Any, accept: bool) -> list[str]:
    """Accept or dismiss the next ``confirm()``; the list returned gets its message."""
    shown: list[str] = []

    def answer(dialog: Any) -> None:
        shown.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", answer)
    return shown


def log_in(page: Any, email: str) -> None:
    """Open the login page, sign in as ``email`` and wait for the home page."""
    page.goto("/login")
    log_in_form(page, email)
    page.wait_for_url(re.compile(r"/$"))


def open_api_settings(page: Any) -> None:
    """From any signed-in page: Company settings > Plugins & API > API."""
    page.get_by_role("link", name="Company settings", exact=True).click()
    menu = page.get_by_role("navigation", name="Company settings")
    menu.get_by_role("link", name="Plugins & API", exact=True).click()
    page.get_by_role("navigation", name="Plugins & API").get_by_role(
        "link", name="API", exact=True
    ).click()


def open_security_log(page: Any) -> None:
    """From any signed-in page: Company settings > Security log."""
    page.get_by_role("link", name="Company settings", exact=True).click()
    menu = page.get_by_role("navigation", name="Company settings")
    menu.get_by_role("link", name="Security log", exact=True).click()
    page.get_by_role("heading", name="Security log").wait_for()
