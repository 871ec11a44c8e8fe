"""``/shifts``: create, list, read, update and delete, with the provisioning scope only.

A bad body is a 400 naming the field (``timezone``, ``ranges[1].end``, ``teammate_ids``),
never a 500, and nothing stored changes.
"""

from __future__ import annotations

from typing import Any

import pytest

from oauth_server.extensions import db
from oauth_server.models import Shift
from oauth_server.models import Teammate
from oauth_server.models.resources import shift_teammates
from tests.api.conftest import assert_insufficient_scope
from tests.api.conftest import snapshot
from tests.api.conftest import stored
from tests.conftest import bearer
from tests.factories import make_personal_token
from tests.factories import make_shift

OTHER_SCOPES = ["shared", "private", "team_a", "scim"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def day_range(day: str, start: str = "09:00", end: str = "17:00") -> dict[str, str]:
    return {"day": day, "start": start, "end": end}


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Support hours",
        "timezone": "Europe/Paris",
        "ranges": [day_range("mon")],
        **overrides,
    }


def state() -> tuple[list[Any], set[tuple[int, ...]]]:
    """Every shift and shift-teammate row, to show a refused request changed nothing."""
    links = {tuple(row) for row in db.session.execute(shift_teammates.select())}
    return snapshot(Shift), links


def assert_400_naming(response: Any, field: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["_error"]
    assert error["status"] == 400
    assert field in error.get("fields", {}), error
    assert error["fields"][field]
    assert field in error["message"]


@pytest.fixture
def headers(world) -> dict[str, str]:
    return world.headers("provisioning")


@pytest.fixture
def shift(world) -> Shift:
    return make_shift(world.company, teammates=[world.alice])


# --- the five routes ---------------------------------------------------------------------


def test_create_a_shift(client, world, headers):
    response = client.post(
        "/api/v1/shifts",
        json=body(
            ranges=[day_range("tue", "13:00", "18:00"), day_range("mon", "22:00", "24:00")]
            + [day_range("tue", "00:00", "06:00"), day_range("tue", "06:00", "12:00")],
            teammate_ids=[world.bob.id, world.alice.id, world.bob.id],
        ),
        headers=headers,
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    assert response.headers["Location"] == f"http://localhost/api/v1/shifts/{data['id']}"
    # Stored sorted by day, then start; repeated teammate ids count once.
    assert data == {
        "id": data["id"],
        "name": "Support hours",
        "timezone": "Europe/Paris",
        "ranges": [
            day_range("mon", "22:00", "24:00"),
            day_range("tue", "00:00", "06:00"),
            day_range("tue", "06:00", "12:00"),
            day_range("tue", "13:00", "18:00"),
        ],
        "teammate_ids": [world.alice.id, world.bob.id],
        "created_at": data["created_at"],
    }
    assert data["created_at"].endswith("Z")
    row = stored(Shift, data["id"])
    assert row.company_id == world.company.id
    assert (row.name, row.timezone) == ("Support hours", "Europe/Paris")
    assert row.ranges == data["ranges"]
    assert [t.id for t in row.teammates] == [world.alice.id, world.bob.id]


def test_create_with_the_least_there_is(client, world, headers):
    response = client.post(
        "/api/v1/shifts",
        json={"name": " Weekend ", "timezone": "UTC", "ranges": []},
        headers=headers,
    )
    assert response.status_code == 201
    data = response.get_json()
    assert (data["name"], data["ranges"], data["teammate_ids"]) == ("Weekend", [], [])


@pytest.mark.parametrize(
    "timezone", ["UTC", "America/Argentina/Buenos_Aires", "Asia/Kolkata", "Etc/GMT+5", "US/Pacific"]
)
def test_iana_time_zones_are_accepted(client, headers, timezone):
    response = client.post("/api/v1/shifts", json=body(timezone=timezone), headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert stored(Shift, response.get_json()["id"]).timezone == timezone


def test_list_shows_this_companys_shifts_newest_first_in_pages(client, world, headers):
    other = make_shift(world.other, "Theirs")
    ours = [make_shift(world.company, f"Shift {n}", [world.bob]) for n in range(3)]

    first = client.get("/api/v1/shifts?limit=2", headers=headers)
    assert first.status_code == 200
    assert [s["id"] for s in first.get_json()["_results"]] == [ours[2].id, ours[1].id]
    assert first.get_json()["_results"][0]["teammate_ids"] == [world.bob.id]
    second = client.get(first.get_json()["_pagination"]["next"], headers=headers)
    assert [s["id"] for s in second.get_json()["_results"]] == [ours[0].id]
    assert second.get_json()["_pagination"]["next"] is None
    everything = client.get("/api/v1/shifts?limit=100", headers=headers).get_json()["_results"]
    assert other.id not in {s["id"] for s in everything}


def test_read_one_shift(client, world, headers, shift):
    response = client.get(f"/api/v1/shifts/{shift.id}", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {
        "id": shift.id,
        "name": "Early",
        "timezone": "UTC",
        "ranges": [day_range("mon", "06:00", "14:00")],
        "teammate_ids": [world.alice.id],
        "created_at": response.get_json()["created_at"],
    }


def test_update_changes_the_given_fields_only(client, world, headers, shift):
    url = f"/api/v1/shifts/{shift.id}"
    response = client.patch(url, json={"name": "Late"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["name"] == "Late"
    assert response.get_json()["teammate_ids"] == [world.alice.id]

    ranges = [day_range(day, "14:00", "22:00") for day in WEEKDAYS]
    response = client.patch(
        url,
        json={"timezone": "America/New_York", "ranges": ranges, "teammate_ids": [world.bob.id]},
        headers=headers,
    )
    assert response.status_code == 200
    row = stored(Shift, shift.id)
    assert (row.name, row.timezone, row.ranges) == ("Late", "America/New_York", ranges)
    assert [t.id for t in row.teammates] == [world.bob.id]

    response = client.patch(url, json={"teammate_ids": [], "ranges": []}, headers=headers)
    assert response.status_code == 200
    row = stored(Shift, shift.id)
    assert (row.teammates, row.ranges) == ([], [])
    # The teammates themselves stay.
    assert db.session.get(Teammate, world.bob.id) is not None


def test_empty_update_changes_nothing(client, headers, shift):
    before = state()
    response = client.patch(f"/api/v1/shifts/{shift.id}", json={}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["name"] == "Early"
    assert state() == before


def test_delete_a_shift(client, world, headers, shift):
    kept = make_shift(world.company, "Kept", [world.alice])
    shift_id, kept_id, alice_id = shift.id, kept.id, world.alice.id
    response = client.delete(f"/api/v1/shifts/{shift_id}", headers=headers)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert stored(Shift, shift_id) is None
    links = {tuple(row) for row in db.session.execute(shift_teammates.select())}
    assert links == {(kept_id, alice_id)}
    assert db.session.get(Teammate, alice_id) is not None
    # A shift is a resource: once gone, it is not found.
    assert client.delete(f"/api/v1/shifts/{shift_id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/shifts/{shift_id}", headers=headers).status_code == 404


def test_another_companys_shift_is_404_and_left_alone(client, world, headers):
    theirs = make_shift(world.other, "Theirs", world.other.teammates)
    before = state()
    url = f"/api/v1/shifts/{theirs.id}"
    assert client.get(url, headers=headers).status_code == 404
    assert client.patch(url, json={"name": "Mine"}, headers=headers).status_code == 404
    assert client.delete(url, headers=headers).status_code == 404
    for unknown in (2**31 - 1, 2**31, 10**17):
        assert client.get(f"/api/v1/shifts/{unknown}", headers=headers).status_code == 404
        assert (
            client.patch(f"/api/v1/shifts/{unknown}", json={}, headers=headers).status_code == 404
        )
    assert state() == before


def test_another_companys_token_does_not_see_our_shifts(client, world, shift):
    _, value = make_personal_token(world.other, "provisioning")
    other = bearer(value)
    assert client.get("/api/v1/shifts", headers=other).get_json()["_results"] == []
    assert client.get(f"/api/v1/shifts/{shift.id}", headers=other).status_code == 404


# --- who may call them -----------------------------------------------------------------------


@pytest.mark.parametrize("scope", OTHER_SCOPES)
def test_every_other_scope_is_refused(client, world, shift, scope):
    headers = world.headers(scope)
    before = state()
    one = f"/api/v1/shifts/{shift.id}"
    calls = [
        ("GET", "/api/v1/shifts", None),
        ("POST", "/api/v1/shifts", body()),
        ("GET", one, None),
        ("PATCH", one, {"name": "Changed"}),
        ("DELETE", one, None),
    ]
    for method, url, payload in calls:
        response = client.open(url, method=method, json=payload, headers=headers)
        assert_insufficient_scope(response, "provisioning")
    assert state() == before


# --- bad input ---------------------------------------------------------------------------------


def _bad_shift_fields(world) -> list[tuple[dict[str, Any], str]]:
    """(fields, the field the answer must name), on create and update alike."""
    mon = day_range("mon")
    return [
        # name
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({"name": ["a"]}, "name"),
        ({"name": "a\x00b"}, "name"),
        # timezone
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": "europe/paris"}, "timezone"),
        ({"timezone": " Europe/Paris"}, "timezone"),
        ({"timezone": "Europe/Paris/"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": "/usr/share/zoneinfo/UTC"}, "timezone"),
        ({"timezone": "localtime"}, "timezone"),
        ({"timezone": "+02:00"}, "timezone"),
        ({"timezone": "UTC\x00"}, "timezone"),
        ({"timezone": "A" * 65}, "timezone"),
        ({"timezone": 1}, "timezone"),
        ({"timezone": None}, "timezone"),
        # ranges: shape
        ({"ranges": None}, "ranges"),
        ({"ranges": "mon 09:00-17:00"}, "ranges"),
        ({"ranges": {"day": "mon"}}, "ranges"),
        ({"ranges": [mon] * 51}, "ranges"),
        ({"ranges": ["mon"]}, "ranges[0]"),
        ({"ranges": [mon, None]}, "ranges[1]"),
        ({"ranges": [{"day": "mon", "start": "09:00"}]}, "ranges[0].end"),
        ({"ranges": [{**mon, "note": "x"}]}, "ranges[0].note"),
        # ranges: days
        ({"ranges": [day_range("monday")]}, "ranges[0].day"),
        ({"ranges": [day_range("Mon")]}, "ranges[0].day"),
        ({"ranges": [day_range("")]}, "ranges[0].day"),
        ({"ranges": [{**mon, "day": 1}]}, "ranges[0].day"),
        # ranges: times
        ({"ranges": [day_range("mon", "9:00")]}, "ranges[0].start"),
        ({"ranges": [day_range("mon", "24:00")]}, "ranges[0].start"),
        ({"ranges": [day_range("mon", "09:00:00")]}, "ranges[0].start"),
        ({"ranges": [day_range("mon", "0900")]}, "ranges[0].start"),
        ({"ranges": [day_range("mon", "09:60")]}, "ranges[0].start"),
        ({"ranges": [day_range("mon", "09:00\n")]}, "ranges[0].start"),
        ({"ranges": [day_range("mon", "٠٩:٠٠")]}, "ranges[0].start"),
        ({"ranges": [{**mon, "start": 900}]}, "ranges[0].start"),
        ({"ranges": [{**mon, "start": None}]}, "ranges[0].start"),
        ({"ranges": [day_range("mon", "09:00", "24:01")]}, "ranges[0].end"),
        ({"ranges": [day_range("mon", "09:00", "25:00")]}, "ranges[0].end"),
        ({"ranges": [day_range("mon", "09:00", "5pm")]}, "ranges[0].end"),
        # ranges: reversed, empty, overlapping
        ({"ranges": [day_range("mon", "17:00", "09:00")]}, "ranges[0].end"),
        ({"ranges": [day_range("mon", "09:00", "09:00")]}, "ranges[0].end"),
        ({"ranges": [day_range("mon", "22:00", "06:00")]}, "ranges[0].end"),
        ({"ranges": [mon, day_range("tue", "12:00", "11:59")]}, "ranges[1].end"),
        (
            {"ranges": [day_range("mon", "09:00", "12:00"), day_range("mon", "11:00", "13:00")]},
            "ranges[1]",
        ),
        ({"ranges": [mon, mon]}, "ranges[1]"),
        (
            {
                "ranges": [
                    day_range("mon", "08:00", "18:00"),
                    day_range("tue"),
                    day_range("mon", "10:00", "11:00"),
                ]
            },
            "ranges[2]",
        ),
        (
            {"ranges": [day_range("wed", "10:00", "11:00"), day_range("wed", "00:00", "24:00")]},
            "ranges[1]",
        ),
        # teammate_ids
        ({"teammate_ids": [world.other.teammates[0].id]}, "teammate_ids"),
        ({"teammate_ids": [world.alice.id, world.other.teammates[0].id]}, "teammate_ids"),
        ({"teammate_ids": [999_999]}, "teammate_ids"),
        ({"teammate_ids": None}, "teammate_ids"),
        ({"teammate_ids": world.alice.id}, "teammate_ids"),
        ({"teammate_ids": str(world.alice.id)}, "teammate_ids"),
        ({"teammate_ids": [str(world.alice.id)]}, "teammate_ids[0]"),
        ({"teammate_ids": [world.alice.id, True]}, "teammate_ids[1]"),
        ({"teammate_ids": [float(world.alice.id)]}, "teammate_ids[0]"),
        ({"teammate_ids": [0]}, "teammate_ids[0]"),
        ({"teammate_ids": [-1]}, "teammate_ids[0]"),
        ({"teammate_ids": [2**40]}, "teammate_ids[0]"),
        ({"teammate_ids": [10**30]}, "teammate_ids[0]"),
        ({"teammate_ids": [world.alice.id] * 1001}, "teammate_ids"),
        # fields a client never sends
        ({"color": "blue"}, "color"),
        ({"id": 5}, "id"),
        ({"company_id": world.other.id}, "company_id"),
        ({"created_at": "2024-01-01T00:00:00Z"}, "created_at"),
    ]


def test_bad_create_bodies(client, world, headers, shift):
    before = state()
    for fields, field in _bad_shift_fields(world):
        response = client.post("/api/v1/shifts", json=body(**fields), headers=headers)
        assert_400_naming(response, field)
    for missing in ("name", "timezone", "ranges"):
        payload = body()
        del payload[missing]
        response = client.post("/api/v1/shifts", json=payload, headers=headers)
        assert_400_naming(response, missing)
        assert response.get_json()["_error"]["fields"] == {missing: "is required"}
    assert state() == before


def test_bad_update_bodies(client, world, headers, shift):
    before = state()
    for fields, field in _bad_shift_fields(world):
        response = client.patch(f"/api/v1/shifts/{shift.id}", json=fields, headers=headers)
        assert_400_naming(response, field)
    assert state() == before


def test_a_refused_update_changes_no_field(client, world, headers, shift):
    before = state()
    response = client.patch(
        f"/api/v1/shifts/{shift.id}",
        json={"name": "Renamed", "timezone": "Mars/Olympus", "teammate_ids": [world.bob.id]},
        headers=headers,
    )
    assert_400_naming(response, "timezone")
    assert state() == before


def test_every_bad_field_is_named_at_once(client, headers):
    response = client.post(
        "/api/v1/shifts",
        json={"name": "", "timezone": 5, "ranges": [day_range("fun", "9:00", "25:00")], "x": 1},
        headers=headers,
    )
    assert response.status_code == 400
    assert set(response.get_json()["_error"]["fields"]) == {
        "name",
        "timezone",
        "ranges[0].day",
        "ranges[0].start",
        "ranges[0].end",
        "x",
    }


def test_touching_ranges_and_the_same_hours_on_other_days_are_fine(client, headers):
    ranges = [day_range("mon", "09:00", "12:00"), day_range("mon", "12:00", "17:00")]
    ranges += [day_range(day) for day in WEEKDAYS[1:]]
    ranges += [day_range("sun", "00:00", "24:00")]
    response = client.post("/api/v1/shifts", json=body(ranges=ranges), headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert len(response.get_json()["ranges"]) == 7


def test_fifty_ranges_are_fine(client, headers):
    ranges = [
        day_range(day, f"{hour:02d}:00", f"{hour:02d}:30")
        for day in ("mon", "tue", "wed", "thu", "fri")
        for hour in range(10)
    ]
    response = client.post("/api/v1/shifts", json=body(ranges=ranges), headers=headers)
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        (b'{"name": "x"', "application/json", 400),
        (b"", "application/json", 400),
        (b"[]", "application/json", 400),
        (b"null", "application/json", 400),
        (b'"x"', "application/json", 400),
        (b"name=x", "application/x-www-form-urlencoded", 415),
        (b'{"name": "x"}', "text/plain", 415),
    ],
)
def test_bodies_that_are_not_a_json_object(client, headers, shift, raw, content_type, status):
    before = state()
    for method, url in (("POST", "/api/v1/shifts"), ("PATCH", f"/api/v1/shifts/{shift.id}")):
        response = client.open(
            url, method=method, data=raw, headers={**headers, "Content-Type": content_type}
        )
        assert response.status_code == status, (method, raw)
        assert response.get_json()["_error"]["status"] == status
    assert state() == before
