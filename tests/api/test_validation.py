"""Bad request bodies: a 400 naming the field (415 for a non-JSON type), never a 500,
and nothing stored changes."""

from __future__ import annotations

from typing import Any

import pytest

from oauth_server.models import RESOURCE_MODELS
from oauth_server.models import Message
from tests.api.conftest import COLLECTIONS
from tests.api.conftest import TITLE
from tests.api.conftest import error_fields
from tests.api.conftest import snapshot

MAX_TITLE = {name: 500 if name == "conversations" else 200 for name in COLLECTIONS}
# Bad values of each collection's own fields: (field, value).
BAD_OPTIONAL: dict[str, list[tuple[str, Any]]] = {
    "inboxes": [("address", "not an address"), ("address", 5), ("address", "a@" + "b" * 320)],
    "channels": [("type", "fax"), ("type", None), ("type", 3), ("address", "")],
    "conversations": [("status", "closed"), ("status", None), ("status", ["open"])],
    "contacts": [("handle", "x" * 321), ("description", "x" * 10_001), ("description", {})],
    "tags": [("highlight", "x" * 21), ("highlight", 7)],
    "rules": [("enabled", "yes"), ("enabled", 1), ("enabled", None), ("description", 1.5)],
}


def _create_cases(collection: str, world) -> list[tuple[dict[str, Any], str]]:
    """(body, the field the answer must name) of bodies a create refuses."""
    title = TITLE[collection]
    team = world.team_a.id
    too_long = "x" * (MAX_TITLE[collection] + 1)
    cases = [
        ({"team_id": team}, title),
        ({title: "", "team_id": team}, title),
        ({title: "   ", "team_id": team}, title),
        ({title: too_long, "team_id": team}, title),
        ({title: 42, "team_id": team}, title),
        ({title: None, "team_id": team}, title),
        ({title: ["a"], "team_id": team}, title),
        ({title: "nul\x00byte", "team_id": team}, title),
        ({title: "ok", "team_id": team, "colour": "red"}, "colour"),
        ({title: "ok", "team_id": team, "id": 5}, "id"),
        ({title: "ok", "team_id": team, "company_id": world.other.id}, "company_id"),
        ({title: "ok", "team_id": str(team)}, "team_id"),
        ({title: "ok", "team_id": True}, "team_id"),
        ({title: "ok", "team_id": 1.0}, "team_id"),
        ({title: "ok", "team_id": 0}, "team_id"),
        ({title: "ok", "team_id": -3}, "team_id"),
        ({title: "ok", "team_id": 2**40}, "team_id"),
        ({title: "ok", "team_id": 10**30}, "team_id"),
        ({title: "ok", "team_id": 999_999}, "team_id"),
        ({title: "ok", "owner_id": 999_999}, "owner_id"),
        ({title: "ok", "owner_id": "me"}, "owner_id"),
        ({title: "ok"}, "team_id"),
        ({title: "ok", "team_id": None, "owner_id": None}, "team_id"),
        ({title: "ok", "team_id": team, "owner_id": world.alice.id}, "owner_id"),
    ]
    for field, value in BAD_OPTIONAL[collection]:
        cases.append(({title: "ok", "team_id": team, field: value}, field))
    return cases


def _update_cases(collection: str) -> list[tuple[dict[str, Any], str]]:
    title = TITLE[collection]
    cases = [
        ({title: ""}, title),
        ({title: None}, title),
        ({title: "x" * (MAX_TITLE[collection] + 1)}, title),
        ({title: 1}, title),
        ({"nope": 1}, "nope"),
        ({"id": 1}, "id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"team_id": None}, "team_id"),
        ({"owner_id": None}, "owner_id"),
    ]
    cases.extend(({field: value}, field) for field, value in BAD_OPTIONAL[collection])
    return cases


def _assert_400_naming(response, field: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()["_error"]
    assert body["status"] == 400
    assert field in body["fields"], body
    assert body["fields"][field]
    assert field in body["message"]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_bad_create_bodies(client, world, collection):
    headers = world.headers("shared")
    model = RESOURCE_MODELS[collection]
    before = snapshot(model)
    for body, field in _create_cases(collection, world):
        response = client.post(f"/api/v1/{collection}", json=body, headers=headers)
        _assert_400_naming(response, field)
    assert snapshot(model) == before


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_bad_update_bodies(client, world, collection):
    headers = world.headers("shared")
    model = RESOURCE_MODELS[collection]
    item = world.items[collection]["team_a"]
    before = snapshot(model)
    for body, field in _update_cases(collection):
        response = client.patch(f"/api/v1/{collection}/{item.id}", json=body, headers=headers)
        _assert_400_naming(response, field)
    assert snapshot(model) == before


def test_every_bad_field_is_named_at_once(client, world):
    response = client.post(
        "/api/v1/rules",
        json={"name": "", "enabled": "no", "extra": 1, "team_id": world.team_a.id},
        headers=world.headers("shared"),
    )
    assert response.status_code == 400
    assert set(error_fields(response)) == {"name", "enabled", "extra"}


def _raw_bodies(url_kind: str) -> list[tuple[bytes | str, str | None, int]]:
    """(raw body, content type, expected status): bodies that are not a JSON object."""
    return [
        (b'{"name": "x"', "application/json", 400),
        (b"", "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        (b"[]", "application/json", 400),
        (b"null", "application/json", 400),
        (b'"name"', "application/json", 400),
        (b"42", "application/json", 400),
        (b"NaN", "application/json", 400),
        (b"name=x", "application/x-www-form-urlencoded", 415),
        (b'{"name": "x"}', "text/plain", 415),
        (b'{"name": "x"}', None, 415),
        (b"<name>x</name>", "application/xml", 415),
    ]


def _targets(world) -> list[tuple[str, str, type]]:
    conversation = world.items["conversations"]["team_a"].id
    targets = []
    for collection in COLLECTIONS:
        model = RESOURCE_MODELS[collection]
        item = world.items[collection]["team_a"].id
        targets.append(("POST", f"/api/v1/{collection}", model))
        targets.append(("PATCH", f"/api/v1/{collection}/{item}", model))
    targets.append(("POST", f"/api/v1/conversations/{conversation}/messages", Message))
    return targets


def test_bodies_that_are_not_a_json_object(client, world):
    headers = world.headers("shared")
    for method, url, model in _targets(world):
        before = snapshot(model)
        for raw, content_type, status in _raw_bodies(url):
            extra = {"Content-Type": content_type} if content_type else {}
            response = client.open(url, method=method, data=raw, headers={**headers, **extra})
            assert response.status_code == status, (method, url, raw, content_type)
            assert response.get_json()["_error"]["status"] == status
        assert snapshot(model) == before


def test_json_with_a_charset_or_a_json_suffix_is_accepted(client, world):
    headers = world.headers("shared")
    item = world.items["tags"]["team_a"].id
    response = client.patch(
        f"/api/v1/tags/{item}",
        data='{"name": "Renamed"}',
        headers={**headers, "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200
    response = client.post(
        "/api/v1/tags",
        data=f'{{"name": "Café", "team_id": {world.team_a.id}}}'.encode(),
        headers={**headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201
    assert response.get_json()["name"] == "Café"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"body": ""}, "body"),
        ({"body": "  \n "}, "body"),
        ({"body": None}, "body"),
        ({"body": 5}, "body"),
        ({"body": "x" * 100_001}, "body"),
        ({"body": "a\x00b"}, "body"),
        ({"body": "ok", "author_id": 1}, "author_id"),
        ({"body": "ok", "conversation_id": 2}, "conversation_id"),
        ({"body": "ok", "subject": "x"}, "subject"),
    ],
)
def test_bad_message_bodies(client, world, body, field):
    conversation = world.items["conversations"]["team_a"].id
    before = snapshot(Message)
    response = client.post(
        f"/api/v1/conversations/{conversation}/messages", json=body, headers=world.headers("shared")
    )
    _assert_400_naming(response, field)
    assert snapshot(Message) == before


def test_longest_allowed_values_are_stored(client, world):
    headers = world.headers("shared")
    response = client.post(
        "/api/v1/conversations",
        json={"subject": "s" * 500, "team_id": world.team_a.id},
        headers=headers,
    )
    assert response.status_code == 201
    conversation = response.get_json()["id"]
    response = client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"body": "b" * 100_000},
        headers=headers,
    )
    assert response.status_code == 201
    response = client.post(
        "/api/v1/inboxes", json={"name": "n" * 200, "team_id": world.team_a.id}, headers=headers
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "path",
    [
        "inboxes/0",
        "inboxes/99999999999999999999",
        "inboxes/-1",
        "inboxes/2147483648",
        "inboxes/999999999999999999",
        "inboxes/02",
    ],
)
def test_out_of_range_ids_in_the_url_are_404(client, world, path):
    headers = world.headers("shared")
    assert client.get(f"/api/v1/{path}", headers=headers).status_code == 404
    assert client.patch(f"/api/v1/{path}", json={"name": "x"}, headers=headers).status_code == 404
    assert client.delete(f"/api/v1/{path}", headers=headers).status_code == 404


def test_a_body_past_the_size_limit_is_a_413(client, world):
    response = client.post(
        "/api/v1/tags",
        data=b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={**world.headers("shared"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.get_json()["_error"]["status"] == 413


def test_the_id_pattern_is_exactly_the_range_of_the_id_columns():
    import re

    from oauth_server.ids import ID_PATTERN

    pattern = re.compile(ID_PATTERN)
    edges = [1, 9, 10, 99, 999_999_999, 1_000_000_000, 1_999_999_999, 2_000_000_000]
    edges += [2_147_483_647 - n for n in (0, 1, 7, 10, 47, 100, 483_647, 1_000_000)]
    edges += [2_147_483_639, 2_147_483_599, 2_147_482_999, 2_147_479_999, 2_147_399_999]
    for n in edges:
        assert pattern.fullmatch(str(n)), n
    for n in (0, 2**31, 2**31 + 1, 2_147_483_650, 2_147_483_700, 2_147_484_000, 2_147_490_000):
        assert not pattern.fullmatch(str(n)), n
    for n in (2_147_500_000, 2_148_000_000, 2_150_000_000, 2_200_000_000, 3_000_000_000, 10**10):
        assert not pattern.fullmatch(str(n)), n
    for text in ("01", "-1", "1.0", " 1", "1 ", "+1", "١"):
        assert not pattern.fullmatch(text), text
