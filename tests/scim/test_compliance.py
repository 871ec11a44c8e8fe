"""scim2-tester's compliance checks, run against a live server of ours over HTTP.

scim2-tester creates, reads, filters, replaces, patches and deletes users and groups
with random values of every attribute ``/Schemas`` publishes, and checks each answer
against RFC 7643 and RFC 7644.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult
from scim2_tester import Status
from scim2_tester import check_server

from tests.conftest import LiveServer
from tests.scim.conftest import Acme

# The server did what RFC 7643/7644 require (SUCCESS), advise (COMPLIANT) or allow.
PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
# Skipped because the server says it does not support the feature: POST /.search answers
# 501, which RFC 7644 §3.4.3 allows. Any other skip is a failure.
UNSUPPORTED = {"search_with_attributes"}


@pytest.fixture
def http(live_server: LiveServer, acme: Acme) -> Iterator[httpx2.Client]:
    with httpx2.Client(
        base_url=f"{live_server.url}/scim/v2",
        headers={"Authorization": f"Bearer {acme.token}"},
        timeout=30,
    ) as client:
        yield client


def _line(result: CheckResult) -> str:
    where = f"{result.resource_type} " if result.resource_type else ""
    return f"{where}{result.title}: {result.status.name} {result.reason or ''}".strip()


def _passed(result: CheckResult) -> bool:
    if result.status == Status.SKIPPED:
        return result.title in UNSUPPORTED and "not supported" in (result.reason or "")
    return result.status in PASSED


def test_every_check_of_scim2_tester_passes(http: httpx2.Client) -> None:
    results = check_server(SyncSCIMClient(http))
    failed = [_line(r) for r in results if not _passed(r)]
    assert not failed, f"{len(failed)} of {len(results)} checks failed:\n" + "\n".join(failed)
    # Users and Groups were both exercised, not only discovery.
    assert {r.resource_type for r in results} >= {"User", "Group"}
