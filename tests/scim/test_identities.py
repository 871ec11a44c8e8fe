"""What identity providers send as identities: any userName, emails, externalId.

RFC 7643 §4.1 leaves userName to the service provider: Entra sends the UPN, others an
employee number. Teammates sign in by e-mail, so the sign-in e-mail comes from emails
(the primary, else a work one, else the first), else from a userName that is one.
"""

from __future__ import annotations

import logging
import unicodedata
from typing import Any
from urllib.parse import quote

import pytest

from oauth_server.services import teammates
from tests.factories import PASSWORD
from tests.factories import make_personal_token
from tests.scim.conftest import GROUP
from tests.scim.conftest import Acme
from tests.scim.conftest import Scim
from tests.scim.conftest import assert_scim_error
from tests.scim.conftest import fresh
from tests.scim.conftest import new_user
from tests.scim.conftest import patch_op
from tests.scim.conftest import stored_teammates

COMPOSED = unicodedata.normalize("NFC", "José")  # é as one code point
DECOMPOSED = unicodedata.normalize("NFD", "José")  # e and a combining acute accent


def created(scim: Scim, body: dict[str, Any]) -> dict[str, Any]:
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()
    return result


def ids_of(scim: Scim, expression: str) -> list[str]:
    response = scim.get(f"/Users?filter={quote(expression)}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [r["id"] for r in response.get_json().get("Resources", [])]


@pytest.mark.parametrize(
    ("emails", "sign_in"),
    [
        (
            [
                {"value": "home@example.com", "type": "home"},
                {"value": "Work@example.com", "type": "work"},
                {"value": "main@example.com", "type": "other", "primary": True},
            ],
            "main@example.com",
        ),
        (
            [
                {"value": "home@example.com", "type": "home"},
                {"value": "w@example.com", "type": "work"},
            ],
            "w@example.com",
        ),
        ([{"value": "only@example.com"}], "only@example.com"),
    ],
)
def test_any_user_name_with_the_sign_in_e_mail_from_emails(
    scim: Scim, acme: Acme, emails: list[dict[str, Any]], sign_in: str
) -> None:
    body = created(scim, new_user("E-10442", emails=emails, externalId="entra-42"))
    assert body["userName"] == "E-10442"
    # All of them, as sent (scim2-models' e-mail validation lower-cases a domain).
    assert body["emails"] == emails
    assert body["externalId"] == "entra-42"
    again = scim.get(f"/Users/{body['id']}").get_json()
    assert (again["userName"], again["emails"]) == ("E-10442", emails)
    assert fresh(acme.alice).email == "alice@acme.test"
    stored = teammates.by_email(sign_in)
    assert str(stored.id) == body["id"] and stored.company_id == acme.company.id


def test_a_upn_user_name_and_no_emails_signs_in_with_the_user_name(scim: Scim, acme: Acme) -> None:
    body = created(scim, new_user("Ryan.Leenay@Contoso.example"))
    assert body["userName"] == "Ryan.Leenay@Contoso.example"
    assert teammates.by_email("ryan.leenay@contoso.example").id == int(body["id"])


def test_a_user_with_no_e_mail_at_all_is_refused(scim: Scim, acme: Acme) -> None:
    before = stored_teammates(acme.company)
    error = assert_scim_error(scim.post("/Users", new_user("E-10442")), 400, "invalidValue")
    assert "e-mail" in error["detail"]
    patch = patch_op({"op": "replace", "path": "userName", "value": "E-7"})
    assert_scim_error(scim.patch(f"/Users/{acme.bob.id}", patch), 400, "invalidValue")
    assert stored_teammates(acme.company) == before


def test_user_names_are_unique_per_company(scim: Scim, acme: Acme) -> None:
    created(scim, new_user("E-1", emails=[{"value": "e1@example.com"}]))
    clash = new_user("e-1", emails=[{"value": "other@example.com"}])
    assert_scim_error(scim.post("/Users", clash), 409, "uniqueness")
    # Another company may use the same userName for its own person.
    _, token = make_personal_token(acme.other, "scim", actor=acme.other_admin)
    response = scim.post(
        "/Users", new_user("E-1", emails=[{"value": "e1@other.example"}]), token=token
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def test_filter_by_external_id(scim: Scim, acme: Acme) -> None:
    okta = created(scim, new_user("okta@example.com", externalId="00u1AbC"))
    created(scim, new_user("other@example.com", externalId="00u1abc"))
    # RFC 7643: externalId is caseExact.
    assert ids_of(scim, 'externalId eq "00u1AbC"') == [okta["id"]]
    patch = patch_op({"op": "replace", "path": "externalId", "value": "00u9"})
    assert scim.patch(f"/Users/{okta['id']}", patch).status_code == 200
    assert ids_of(scim, 'externalId eq "00u9"') == [okta["id"]]
    assert ids_of(scim, 'externalId eq "00u1AbC"') == []


# --- one person however the letters are written -------------------------------------------


def test_composed_and_decomposed_letters_are_one_user(scim: Scim, acme: Acme) -> None:
    body = created(scim, new_user(f"{COMPOSED}@example.com"))
    # The same name with é as two code points, in other case: taken, here and in filters.
    twin = new_user(f"{DECOMPOSED.upper()}@example.com")
    assert_scim_error(scim.post("/Users", twin), 409, "uniqueness")
    assert ids_of(scim, f'userName eq "{DECOMPOSED}@EXAMPLE.com"') == [body["id"]]
    # Sign-in by e-mail too.
    teammate = teammates.by_email(f"{DECOMPOSED}@example.com")
    teammate.password_hash = teammates.hash_password(PASSWORD)
    from oauth_server.extensions import db

    db.session.commit()
    signed_in = teammates.authenticate(f"{DECOMPOSED.upper()}@Example.com", PASSWORD)
    assert signed_in is not None and signed_in.id == int(body["id"])


def test_composed_and_decomposed_e_mails_are_one_sign_in_e_mail(scim: Scim, acme: Acme) -> None:
    created(scim, new_user("E-1", emails=[{"value": f"{COMPOSED}@example.com"}]))
    twin = new_user("E-2", emails=[{"value": f"{DECOMPOSED}@example.com"}])
    assert_scim_error(scim.post("/Users", twin), 409, "uniqueness")
    assert len(ids_of(scim, f'emails.value eq "{DECOMPOSED}@EXAMPLE.COM"')) == 1


# --- text the database cannot or should not keep -------------------------------------------


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\n", "\x7f"])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/Users", lambda bad: new_user(f"E{bad}1", emails=[{"value": "x@example.com"}])),
        ("/Users", lambda bad: new_user("x@example.com", name={"givenName": f"A{bad}B"})),
        ("/Users", lambda bad: new_user("x@example.com", displayName=f"A{bad}B")),
        ("/Users", lambda bad: new_user("x@example.com", externalId=f"id{bad}")),
        (
            "/Users",
            lambda bad: new_user(
                "x@example.com", emails=[{"value": "x@example.com", "display": bad}]
            ),
        ),
        (
            "/Users",
            lambda bad: new_user("x@example.com", emails=[{"value": f"x{bad}@example.com"}]),
        ),
        ("/Groups", lambda bad: {"schemas": [GROUP], "displayName": f"Sa{bad}les"}),
        ("/Groups", lambda bad: {"schemas": [GROUP], "displayName": "S", "externalId": bad}),
    ],
)
def test_control_characters_are_400_invalid_value(
    scim: Scim, acme: Acme, path: str, body: Any, bad: str
) -> None:
    before = stored_teammates(acme.company)
    assert_scim_error(scim.post(path, body(bad)), 400, "invalidValue")
    target = f"{path}/{acme.alice.id if path == '/Users' else acme.team.id}"
    assert_scim_error(scim.put(target, body(bad)), 400, "invalidValue")
    assert stored_teammates(acme.company) == before


# --- the audit log ---------------------------------------------------------------------------


def test_an_admins_new_sign_in_e_mail_is_in_the_audit_log_without_the_address(
    scim: Scim, acme: Acme, caplog: pytest.LogCaptureFixture
) -> None:
    operation = {"op": "replace", "path": "userName", "value": "ada@newdomain.example"}
    with caplog.at_level(logging.INFO, logger="oauth_server.audit"):
        response = scim.patch(f"/Users/{acme.admin.id}", patch_op(operation))
    assert response.status_code == 200, response.get_data(as_text=True)
    (line,) = [r for r in caplog.records if r.getMessage() == "sign-in e-mail changed"]
    assert line.name == "oauth_server.audit"
    assert (line.teammate_id, line.company_id, line.via, line.admin) == (  # type: ignore[attr-defined]
        acme.admin.id,
        acme.company.id,
        "scim",
        True,
    )
    assert "newdomain" not in str(line.__dict__) and "admin@acme.test" not in str(line.__dict__)
