"""Identity providers send requests in parallel: races end in SCIM answers, never a 500."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2

from tests.conftest import LiveServer
from tests.scim.conftest import GROUP
from tests.scim.conftest import SCIM_JSON
from tests.scim.conftest import Acme
from tests.scim.conftest import fresh
from tests.scim.conftest import new_user
from tests.scim.conftest import patch_op

PARALLEL = 8


def _send(live_server: LiveServer, acme: Acme, method: str, path: str, body: Any) -> Any:
    with httpx2.Client(
        base_url=f"{live_server.url}/scim/v2",
        headers={"Authorization": f"Bearer {acme.token}", "Content-Type": SCIM_JSON},
        timeout=60,
    ) as http:
        return http.request(method, path, json=body)


def _all(live_server: LiveServer, acme: Acme, requests: list[tuple[str, str, Any]]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = [pool.submit(_send, live_server, acme, *request) for request in requests]
        return [future.result() for future in futures]


def test_the_same_user_created_at_once_exists_once(live_server: LiveServer, acme: Acme) -> None:
    body = new_user("twin@example.com")
    responses = _all(live_server, acme, [("POST", "/Users", body)] * PARALLEL)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (PARALLEL - 1), [r.text for r in responses]
    assert all(r.json()["scimType"] == "uniqueness" for r in responses if r.status_code == 409)


def test_members_added_at_once_are_all_kept(live_server: LiveServer, acme: Acme) -> None:
    created = _all(
        live_server,
        acme,
        [("POST", "/Users", new_user(f"member{n}@example.com")) for n in range(PARALLEL)],
    )
    ids = [r.json()["id"] for r in created]
    group = _send(live_server, acme, "POST", "/Groups", {"schemas": [GROUP], "displayName": "G"})
    path = f"/Groups/{group.json()['id']}"
    additions = [
        ("PATCH", path, patch_op({"op": "add", "path": "members", "value": [{"value": i}]}))
        for i in ids
    ]
    responses = _all(live_server, acme, additions)
    assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]
    # A request that lost a race says so (409) and the identity provider sends it again.
    for request, response in zip(additions, responses, strict=True):
        if response.status_code == 409:
            assert _send(live_server, acme, *request).status_code == 200
    final = _send(live_server, acme, "GET", path, None).json()
    assert sorted(m["value"] for m in final["members"]) == sorted(ids)
    assert fresh(acme.team) is not None
