"""Bad input gets a SCIM error with the right status and scimType, never a 500, and
leaves stored data unchanged."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from oauth_server.extensions import db
from oauth_server.scim import listing
from tests.scim.conftest import GROUP
from tests.scim.conftest import PATCH_OP
from tests.scim.conftest import USER
from tests.scim.conftest import Acme
from tests.scim.conftest import Scim
from tests.scim.conftest import assert_scim_error
from tests.scim.conftest import new_user
from tests.scim.conftest import patch_op
from tests.scim.conftest import stored_teammates
from tests.scim.conftest import stored_teams


def snapshot(acme: Acme) -> tuple[Any, ...]:
    return stored_teammates(acme.company), stored_teams(acme.company)


def writes(acme: Acme) -> list[tuple[str, str]]:
    return [
        ("POST", "/Users"),
        ("PUT", f"/Users/{acme.alice.id}"),
        ("PATCH", f"/Users/{acme.alice.id}"),
        ("POST", "/Groups"),
        ("PUT", f"/Groups/{acme.team.id}"),
        ("PATCH", f"/Groups/{acme.team.id}"),
    ]


# --- bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b'{"schemas": [', b"[1, 2", b"\xff\xfe\x00", b"{'single': 'quotes'}"],
)
def test_invalid_json_is_400_invalid_syntax(scim: Scim, acme: Acme, raw: bytes) -> None:
    before = snapshot(acme)
    for method, path in writes(acme):
        response = scim(method, path, data=raw, content_type="application/scim+json")
        assert_scim_error(response, 400, "invalidSyntax")
    assert snapshot(acme) == before


@pytest.mark.parametrize("document", [[], [new_user("x@acme.test")], "text", 42, None, True])
def test_a_body_that_is_no_object_is_400_invalid_syntax(
    scim: Scim, acme: Acme, document: Any
) -> None:
    before = snapshot(acme)
    for method, path in writes(acme):
        response = scim(method, path, data=json.dumps(document), content_type="application/json")
        assert_scim_error(response, 400, "invalidSyntax")
    assert snapshot(acme) == before


def test_an_empty_body_is_400(scim: Scim, acme: Acme) -> None:
    for method, path in writes(acme):
        assert_scim_error(scim(method, path, data=b""), 400, "invalidSyntax")


def test_deeply_nested_json_is_400(scim: Scim, acme: Acme) -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    response = scim.post("/Users", data=raw, content_type="application/json")
    assert_scim_error(response, 400, "invalidSyntax")


def test_an_oversized_body_is_a_scim_413(scim: Scim, acme: Acme) -> None:
    before = snapshot(acme)
    body = new_user("big@acme.test", displayName="x" * (1024 * 1024 + 1))
    for method, path in writes(acme):
        assert_scim_error(scim(method, path, body), 413)
    assert snapshot(acme) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_another_media_type_is_415(scim: Scim, acme: Acme, content_type: str) -> None:
    before = snapshot(acme)
    body = json.dumps(new_user("typed@acme.test"))
    response = scim.post("/Users", data=body, content_type=content_type)
    assert_scim_error(response, 415)
    assert snapshot(acme) == before


def test_application_json_is_accepted(scim: Scim) -> None:
    body = json.dumps(new_user("plain@acme.test"))
    assert scim.post("/Users", data=body, content_type="application/json").status_code == 201


# --- schemas and attributes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "scim_type"),
    [
        ("/Users", {"schemas": [GROUP], "userName": "a@acme.test"}, "invalidSyntax"),
        (
            "/Users",
            {"schemas": [USER, "urn:example:custom"], "userName": "a@acme.test"},
            "invalidSyntax",
        ),
        ("/Users", {"schemas": [USER], "userName": "a@acme.test", "shoeSize": 42}, "invalidSyntax"),
        (
            "/Users",
            {"schemas": [USER], "userName": "a@acme.test", "name": {"nick": "x"}},
            "invalidSyntax",
        ),
        ("/Users", {"schemas": [USER]}, "invalidValue"),
        ("/Users", {"schemas": [USER], "userName": ""}, "invalidValue"),
        ("/Users", {"schemas": [USER], "userName": "no-at-sign"}, "invalidValue"),
        ("/Users", {"schemas": [USER], "userName": ["a@acme.test"]}, "invalidValue"),
        (
            "/Users",
            {"schemas": [USER], "userName": "a@acme.test", "active": "maybe"},
            "invalidValue",
        ),
        (
            "/Users",
            {"schemas": [USER], "userName": "a@acme.test", "emails": [{"value": "nope"}]},
            "invalidValue",
        ),
        (
            "/Users",
            {"schemas": [USER], "userName": "a@acme.test", "displayName": "x" * 201},
            "invalidValue",
        ),
        ("/Users", {"schemas": [USER], "userName": "a" * 320 + "@acme.test"}, "invalidValue"),
        ("/Groups", {"schemas": [USER], "displayName": "Sales"}, "invalidSyntax"),
        ("/Groups", {"schemas": [GROUP]}, "invalidValue"),
        ("/Groups", {"schemas": [GROUP], "displayName": "   "}, "invalidValue"),
        ("/Groups", {"schemas": [GROUP], "displayName": "S", "members": "1"}, "invalidValue"),
        ("/Groups", {"schemas": [GROUP], "displayName": "S", "leader": "1"}, "invalidSyntax"),
    ],
)
def test_refused_resources(
    scim: Scim, acme: Acme, path: str, body: dict[str, Any], scim_type: str
) -> None:
    before = snapshot(acme)
    assert_scim_error(scim.post(path, body), 400, scim_type)
    target = f"{path}/{acme.alice.id if path == '/Users' else acme.team.id}"
    assert_scim_error(scim.put(target, body), 400, scim_type)
    assert snapshot(acme) == before


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"Operations": [{"op": "replace", "path": "active", "value": False}]}, None),
        ({"schemas": [USER], "Operations": [{"op": "replace", "value": {}}]}, "invalidSyntax"),
        ({"schemas": [PATCH_OP]}, "invalidValue"),
        ({"schemas": [PATCH_OP], "Operations": []}, "invalidValue"),
        ({"schemas": [PATCH_OP], "Operations": {"op": "add"}}, "invalidValue"),
        ({"schemas": [PATCH_OP], "Operations": ["replace"]}, "invalidValue"),
        (
            {"schemas": [PATCH_OP], "Operations": [{"path": "active", "value": False}]},
            "invalidValue",
        ),
        (patch_op({"op": "replace", "value": {"shoeSize": 42}}), "invalidValue"),
        (patch_op({"op": "replace", "path": 42, "value": False}), "invalidValue"),
        (patch_op({"op": "replace", "path": "shoeSize", "value": 42}), "invalidPath"),
    ],
)
def test_refused_patch_documents(
    scim: Scim, acme: Acme, body: dict[str, Any], scim_type: str | None
) -> None:
    before = snapshot(acme)
    response = scim.patch(f"/Users/{acme.alice.id}", body)
    if scim_type is None:
        # A missing schemas list is tolerated: the endpoint says what the message is.
        assert response.status_code == 200
        return
    assert_scim_error(response, 400, scim_type)
    assert snapshot(acme) == before


# --- query strings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        'userName eq "unterminated',
        "userName eq alice",
        'userName eq "a" and',
        'userName eq "a" or or userName pr',
        "not userName pr",
        "((userName pr)",
        'emails[type eq "work"',
        'emails[type eq "work"]]',
        'userName eq "a" garbage',
        'shoeSize eq "42"',
        "name.shoeSize pr",
        "active gt true",
        'meta.created gt "yesterday"',
        'members[value eq "1"]',
        "\x00",
        "x" * 5000,
    ],
)
def test_malformed_filters_are_400_invalid_filter(scim: Scim, acme: Acme, expression: str) -> None:
    assert_scim_error(scim.get(f"/Users?filter={quote(expression)}"), 400, "invalidFilter")


@pytest.mark.parametrize(
    "query",
    [
        "attributes=shoeSize",
        "excludedAttributes=name.shoeSize",
        "attributes=userName&excludedAttributes=name",
        "count=many",
        "startIndex=first",
        "count=1e3",
    ],
)
def test_bad_list_parameters_are_400_invalid_value(scim: Scim, query: str) -> None:
    assert_scim_error(scim.get(f"/Users?{query}"), 400, "invalidValue")


@pytest.mark.parametrize(
    "expression",
    ['userName eq "a\\u0000b"', 'displayName co "\\u0000"', 'id eq "1\\u0000"'],
)
def test_a_nul_in_a_filter_value_matches_nothing(scim: Scim, expression: str) -> None:
    # JSON escapes in a filter string can spell a NUL, which PostgreSQL takes nowhere.
    response = scim.get(f"/Users?filter={quote(expression)}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["totalResults"] == 0


def test_a_huge_start_index_is_an_empty_page(scim: Scim) -> None:
    body = scim.get(f"/Users?startIndex={'9' * 40}").get_json()
    assert body["totalResults"] == 3 and body["itemsPerPage"] == 0


def test_bad_response_attributes_refuse_a_write_before_it_happens(scim: Scim, acme: Acme) -> None:
    before = snapshot(acme)
    body = new_user("early@acme.test")
    assert_scim_error(scim.post("/Users?attributes=shoeSize", body), 400, "invalidValue")
    operation = patch_op({"op": "replace", "path": "active", "value": False})
    response = scim.patch(f"/Users/{acme.alice.id}?excludedAttributes=x.y", operation)
    assert_scim_error(response, 400, "invalidValue")
    assert snapshot(acme) == before


def test_unknown_attributes_on_one_resource_are_400(scim: Scim, acme: Acme) -> None:
    assert_scim_error(scim.get(f"/Users/{acme.alice.id}?attributes=bogus"), 400, "invalidValue")
    assert_scim_error(
        scim.get(f"/Groups/{acme.team.id}?excludedAttributes=bogus"), 400, "invalidValue"
    )


# --- never a 500 -------------------------------------------------------------------------

GARBAGE: list[Any] = [
    {},
    {"schemas": None},
    {"schemas": [None]},
    {"schemas": "urn:ietf:params:scim:schemas:core:2.0:User"},
    {"schemas": [USER], "userName": None},
    {"schemas": [USER], "userName": {"nested": True}},
    {"schemas": [USER], "userName": "a@acme.test", "name": "flat"},
    {"schemas": [USER], "userName": "a@acme.test", "name": {"givenName": 5}},
    {"schemas": [USER], "userName": "a@acme.test", "emails": "x"},
    {"schemas": [USER], "userName": "a@acme.test", "emails": [{"primary": "very"}]},
    {"schemas": [USER], "userName": "a@acme.test", "groups": "x"},
    {"schemas": [USER], "userName": "a\x00@acme.test"},
    {"schemas": [USER], "userName": "a@acme.test", "displayName": "nul\x00byte"},
    {"schemas": [USER], "userName": "\ud800@acme.test"},
    {"schemas": [USER], "userName": "a@acme.test", "meta": "x"},
    {"schemas": [USER], "userName": "a@acme.test", "id": {"x": 1}},
    {"schemas": [GROUP], "displayName": None},
    {"schemas": [GROUP], "displayName": "G", "members": [None]},
    {"schemas": [GROUP], "displayName": "G", "members": [{"value": None}]},
    {"schemas": [GROUP], "displayName": "G", "members": [{"value": "9" * 40}]},
    {"schemas": [GROUP], "displayName": "G", "members": [{"value": "1", "type": 5}]},
    {"schemas": [PATCH_OP], "Operations": [None]},
    {"schemas": [PATCH_OP], "Operations": [{"op": None}]},
    {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "", "value": 1}]},
    {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": None}]},
    {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [None]}]},
    {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "emails", "value": 7}]},
    {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "name", "value": "x"}]},
    {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": "not an object"}]},
    {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"userName": None}}]},
    {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "userName", "value": 1}]},
]


@pytest.mark.parametrize("document", GARBAGE)
def test_garbage_never_gets_a_500(scim: Scim, acme: Acme, document: Any) -> None:
    before = snapshot(acme)
    for method, path in writes(acme):
        response = scim(method, path, document)
        assert response.status_code == 400, (method, path, response.get_data(as_text=True))
        assert_scim_error(response, 400, response.get_json().get("scimType"))
    assert snapshot(acme) == before


# --- failures of ours --------------------------------------------------------------------


def test_a_database_outage_is_a_scim_503(scim: Scim, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(listing, "page", down)
    response = scim.get("/Users")
    assert_scim_error(response, 503)
    assert response.headers["Retry-After"] == "1"  # the app's one answer, not Limiter's


DEADLOCK = "DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$"


@pytest.mark.postgres
def test_a_transaction_conflict_is_a_scim_409_that_stores_nothing(
    scim: Scim, acme: Acme, caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL's own error: the insert of the user is preceded, on the same connection,
    # by a statement that fails with SQLSTATE 40P01, as a deadlock would end it.
    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO teammates"):
            cursor.execute(DEADLOCK)

    before_request = snapshot(acme)
    event.listen(db.engine, "before_cursor_execute", before)
    try:
        with caplog.at_level(logging.WARNING):
            response = scim.post("/Users", new_user("carol@acme.test"))
    finally:
        event.remove(db.engine, "before_cursor_execute", before)

    body = assert_scim_error(response, 409)
    assert "conflicted" in body["detail"]
    assert response.headers["Retry-After"] == "1"
    assert [r for r in caplog.records if r.getMessage() == "database conflict"]
    assert not [r for r in caplog.records if r.getMessage() == "database unavailable"]
    assert snapshot(acme) == before_request


def test_a_bug_is_still_a_scim_document(scim: Scim, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(listing, "page", broken)
    body = assert_scim_error(scim.get("/Users"), 500)
    assert "bug" not in body["detail"]  # no internals in the answer
