"""List bodies, byte for byte: lists write plain rows (``schemas.RowDumper``), one item
reads and writes through the response model (``schemas.dump``); the JSON must not differ."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

import pytest
from flask import current_app

from oauth_server.api import schemas
from oauth_server.api.schemas import OUTPUT_MODELS
from oauth_server.extensions import db
from oauth_server.models import RESOURCE_MODELS
from oauth_server.models import Message
from tests.api.conftest import COLLECTIONS
from tests.api.conftest import TITLE
from tests.api.test_resources import OPTIONAL
from tests.conftest import bearer
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_resource
from tests.factories import make_team

WHOLE_SECOND = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
MICROSECONDS = datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)
# JSON escapes: non-ASCII, a line separator, an astral character, quotes, a backslash,
# DEL (which Python's json escapes too) and two control characters.
AWKWARD = 'Première "quoted" \u2028 \U0001f600 \\ </b> \x7f\x01\t'
AWKWARD_JSON = '"Premi\\u00e8re \\"quoted\\" \\u2028 \\ud83d\\ude00 \\\\ </b> \\u007f\\u0001\\t"'


def test_a_conversation_list_byte_for_byte(client):
    company = make_company("Golden", plan="scale", teams_feature=True)
    admin = make_admin(company, email="admin@golden.test", private_api_access=True)
    team = make_team(company, "Golden team", members=[admin])
    oldest = make_resource("conversations", company, team=team, subject="Oldest")
    middle = make_resource(
        "conversations",
        company,
        team=team,
        subject=AWKWARD,
        status="snoozed",
        created_at=WHOLE_SECOND,
        updated_at=MICROSECONDS,
    )
    newest = make_resource(
        "conversations",
        company,
        owner=admin,
        subject="Private",
        created_at=MICROSECONDS,
        updated_at=WHOLE_SECOND,
    )
    _, shared = make_personal_token(company, "shared", actor=admin)
    _, private = make_personal_token(company, "private", actor=admin)

    response = client.get("/api/v1/conversations?limit=1", headers=bearer(shared))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == (
        '{"_pagination":{"next":"http://localhost/api/v1/conversations?limit=1&page_token='
        f'{middle.id}"}},"_results":[{{"created_at":"2026-01-02T03:04:05Z","id":{middle.id},'
        f'"owner_id":null,"status":"snoozed","subject":{AWKWARD_JSON},"team_id":{team.id},'
        '"updated_at":"2026-01-02T03:04:05.000600Z"}]}\n'
    )
    assert oldest.id < middle.id

    response = client.get("/api/v1/conversations", headers=bearer(private))
    assert response.get_data(as_text=True) == (
        '{"_pagination":{"next":null},"_results":[{"created_at":"2026-01-02T03:04:05.000600Z",'
        f'"id":{newest.id},"owner_id":{admin.id},"status":"open","subject":"Private",'
        '"team_id":null,"updated_at":"2026-01-02T03:04:05Z"}]}\n'
    )


def test_a_message_list_byte_for_byte(client):
    company = make_company("Golden", plan="scale", teams_feature=True)
    admin = make_admin(company, email="admin@golden.test")
    team = make_team(company, "Golden team", members=[admin])
    conversation = make_resource("conversations", company, team=team)
    first = Message(
        conversation_id=conversation.id, body=AWKWARD, author_id=admin.id, created_at=WHOLE_SECOND
    )
    second = Message(conversation_id=conversation.id, body="  Hi  ", created_at=MICROSECONDS)
    db.session.add_all([first, second])
    db.session.commit()
    _, token = make_personal_token(company, "shared", actor=admin)

    url = f"/api/v1/conversations/{conversation.id}/messages"
    response = client.get(url + "?limit=1", headers=bearer(token))
    assert response.get_data(as_text=True) == (
        f'{{"_pagination":{{"next":"http://localhost{url}?limit=1&page_token={second.id}"}},'
        f'"_results":[{{"author_id":null,"body":"  Hi  ","conversation_id":{conversation.id},'
        f'"created_at":"2026-01-02T03:04:05.000600Z","id":{second.id}}}]}}\n'
    )
    response = client.get(f"{url}?limit=1&page_token={second.id}", headers=bearer(token))
    assert response.get_data(as_text=True) == (
        f'{{"_pagination":{{"next":null}},"_results":[{{"author_id":{admin.id},'
        f'"body":{AWKWARD_JSON},"conversation_id":{conversation.id},'
        f'"created_at":"2026-01-02T03:04:05Z","id":{first.id}}}]}}\n'
    )


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_listed_items_are_written_as_one_item_is(client, world, collection):
    """Every field set (and left null, in the world's items): the list says what a read says."""
    title = TITLE[collection]
    full = {name: values[0] for name, values in OPTIONAL[collection].items()}
    make_resource(collection, world.company, team=world.team_a, **{title: AWKWARD}, **full)
    make_resource(collection, world.company, owner=world.alice, created_at=WHOLE_SECOND, **full)
    headers = world.headers("shared")
    private = world.headers("private")
    listed = [
        *client.get(f"/api/v1/{collection}?limit=100", headers=headers).get_json()["_results"],
        *client.get(f"/api/v1/{collection}?limit=100", headers=private).get_json()["_results"],
    ]
    assert len(listed) == 5  # three team items, two of Alice's

    db.session.rollback()
    model = RESOURCE_MODELS[collection]
    for item in listed:
        row = db.session.get(model, item["id"])
        assert item == schemas.dump(OUTPUT_MODELS[collection], row)
        headers_for_item = private if item["owner_id"] is not None else headers
        one = client.get(f"/api/v1/{collection}/{item['id']}", headers=headers_for_item)
        assert one.get_json() == item


def _samples(annotation: Any) -> list[Any]:
    if annotation is datetime:
        return [
            WHOLE_SECOND,
            MICROSECONDS,
            datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(1, 1, 1, tzinfo=UTC),
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        ]
    samples = {
        int: [1, 2**31 - 1],
        str: ["", AWKWARD],
        bool: [True, False],
        int | None: [None, 7],
        str | None: [None, AWKWARD],
    }
    return samples[annotation]


@pytest.mark.parametrize(
    "model", [*OUTPUT_MODELS.values(), schemas.Message], ids=lambda model: model.__name__
)
def test_the_row_dumper_writes_what_the_model_writes(model):
    """A page written at once is Flask's JSON of the items dumped one by one."""
    dump_row = schemas.RowDumper(model)
    assert sorted(dump_row.fields) == sorted(model.model_fields)
    samples = {name: _samples(info.annotation) for name, info in model.model_fields.items()}
    items, rows = [], []
    for i in range(max(len(values) for values in samples.values())):
        values = {name: options[i % len(options)] for name, options in samples.items()}
        items.append(schemas.dump(model, values))
        rows.append(tuple(values[name] for name in dump_row.fields))
    for next_url in (None, "http://localhost/api/v1/x?limit=2&page_token=9"):
        data = {"_results": items, "_pagination": {"next": next_url}}
        assert dump_row.page(rows, next_url) == current_app.json.response(data).get_data()
    assert dump_row.page([], None) == b'{"_pagination":{"next":null},"_results":[]}\n'
