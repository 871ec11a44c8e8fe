"""Lists: filter (eq, co, sw, ew, pr, and, or, not...), startIndex/count paging, attributes.

The filters are transpiled to SQL (``scim/filters.py``); the parity tests check that for
every filter here the SQL answer is what scim2-models' own ``ScimFilter.match`` says on
the same resources, so both ways of evaluating agree.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from scim2_models import Group
from scim2_models import ScimFilter
from scim2_models import User

from oauth_server.extensions import db
from oauth_server.scim import filters
from oauth_server.scim import listing
from oauth_server.scim import mapping
from oauth_server.services import teammates
from oauth_server.services import teams
from tests.factories import make_team
from tests.factories import make_teammate
from tests.scim.conftest import LIST
from tests.scim.conftest import Acme
from tests.scim.conftest import Scim
from tests.scim.conftest import assert_scim_error

BASE_URL = "http://localhost/scim/v2"


@pytest.fixture
def crowd(acme: Acme) -> dict[str, Any]:
    """Acme plus teammates with awkward names and states, and a second team."""
    carol = make_teammate(acme.company, email="carol_c@acme.test", name="Carol de la Cruz")
    dave = make_teammate(acme.company, email="da%ve@acme.test", name="")
    erin = make_teammate(acme.company, email="erin@acme.test", name="Érin Ørsted")
    erin.active = False
    db.session.commit()
    sales = make_team(acme.company, "Sales", members=[acme.bob, carol])
    people = {"admin": acme.admin, "alice": acme.alice, "bob": acme.bob}
    people.update(carol=carol, dave=dave, erin=erin)
    return {"people": people, "support": acme.team, "sales": sales}


def ids(crowd: dict[str, Any], *names: str) -> list[int]:
    return sorted(crowd["people"][n].id for n in names)


def listed(scim: Scim, query: str) -> dict[str, Any]:
    response = scim.get(f"/Users?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert body["schemas"] == [LIST]
    return body


def filtered(scim: Scim, expression: str, path: str = "/Users") -> list[int]:
    response = scim.get(f"{path}?filter={quote(expression)}&count=200")
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(int(r["id"]) for r in response.get_json().get("Resources", []))


def expand(expression: str, crowd: dict[str, Any]) -> str:
    for name, teammate in crowd["people"].items():
        expression = expression.replace(f"<{name}>", str(teammate.id))
    expression = expression.replace("<support>", str(crowd["support"].id))
    return expression.replace("<sales>", str(crowd["sales"].id))


# --- what the common filters return ------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('userName eq "alice@acme.test"', ["alice"]),
        ('userName eq "ALICE@Acme.TEST"', ["alice"]),  # RFC 7643: userName is caseExact false
        ('USERNAME EQ "alice@acme.test"', ["alice"]),  # attribute names and operators too
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@acme.test"', ["bob"]),
        ('userName eq "nobody@acme.test"', []),
        ('userName co "_"', ["carol"]),  # LIKE wildcards are plain characters
        ('userName co "%"', ["dave"]),
        ('userName sw "A"', ["admin", "alice"]),
        ('userName ew "@ACME.test"', ["admin", "alice", "bob", "carol", "dave", "erin"]),
        ("displayName pr", ["admin", "alice", "bob", "carol", "erin"]),
        ("not (displayName pr)", ["dave"]),
        ('displayName co "DE LA"', ["carol"]),
        ('displayName sw "érin ø"', ["erin"]),  # Unicode case folding on every backend
        ("active eq false", ["erin"]),
        ('active eq true and userName sw "a"', ["admin", "alice"]),
        ('userName sw "a" or userName sw "b"', ["admin", "alice", "bob"]),
        ('userName sw "a" and (displayName co "ada" or displayName co "bob")', ["admin"]),
        ('userName ne "alice@acme.test" and userName lt "c"', ["admin", "bob"]),
        ('id eq "<bob>"', ["bob"]),
        ('emails[type eq "work" and value sw "al"]', ["alice"]),
        ('emails[type eq "home"]', []),
        ('emails co "carol"', ["carol"]),
        ('groups.value eq "<sales>"', ["bob", "carol"]),
        ('groups.display eq "support"', ["alice"]),
        ("not (groups pr)", ["admin", "dave", "erin"]),
        ('externalId eq "abc"', []),  # not stored: no value
        ('title ne "x"', ["admin", "alice", "bob", "carol", "dave", "erin"]),
        (
            'meta.created gt "2000-01-01T00:00:00Z"',
            ["admin", "alice", "bob", "carol", "dave", "erin"],
        ),
        ('name.givenName eq "carol de la"', ["carol"]),  # computed: evaluated in Python
        ('name.familyName sw "L"', ["alice"]),
    ],
)
def test_user_filters(
    scim: Scim, crowd: dict[str, Any], expression: str, expected: list[str]
) -> None:
    assert filtered(scim, expand(expression, crowd)) == ids(crowd, *expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('displayName eq "SUPPORT"', ["support"]),
        ('displayName sw "s"', ["sales", "support"]),
        ('members.value eq "<bob>"', ["sales"]),
        ('members eq "<alice>"', ["support"]),
        ('members[value eq "<carol>"]', ["sales"]),
        ("members pr", ["sales", "support"]),
        ('id eq "<support>" or displayName eq "nothing"', ["support"]),
    ],
)
def test_group_filters(
    scim: Scim, crowd: dict[str, Any], expression: str, expected: list[str]
) -> None:
    found = filtered(scim, expand(expression, crowd), "/Groups")
    assert found == sorted(crowd[name].id for name in expected)


# --- parity: SQL says what ScimFilter.match says -----------------------------------------

USER_PARITY = [
    'userName eq "alice@acme.test"',
    'userName ne "alice@acme.test"',
    'userName co "ACME"',
    'userName gt "bob@acme.test"',
    'userName ge "bob@acme.test"',
    'userName le "bob"',
    "userName pr",
    'displayName eq "bob"',
    'displayName ne "bob"',
    "displayName eq null",
    "displayName ne null",
    'displayName sw ""',
    'displayName ew "z"',
    'displayName co "ØR"',
    'displayName lt "Carol"',
    'name.formatted co "a"',
    "name pr",
    "active eq true",
    "active ne false",
    'id ne "<alice>"',
    'id gt "<bob>"',
    'id sw "1"',
    'groups.value ne "<support>"',
    'groups.value eq "<support>" or groups.value eq "<sales>"',
    "groups.value eq null",
    'groups[display sw "SU"]',
    'externalId ne "x"',
    "externalId pr",
    "title eq null",
    'nickName co "x"',
    'meta.created lt "2000-01-01T00:00:00Z"',
    'meta.resourceType eq "user"',
    'not (userName sw "a" or active eq false)',
]

GROUP_PARITY = [
    'displayName eq "sales"',
    'displayName ne "sales"',
    'displayName gt "s"',
    "members pr",
    'members.value ne "<alice>"',
    "members.value eq null",
    'members[value eq "<bob>" or value eq "<alice>"]',
    'id eq "<sales>"',
    'externalId eq "x"',
    'meta.created ge "2000-01-01T00:00:00Z"',
]


def _parity(model: type[Any], expression: str, query: Any, to_sql: Any, to_resource: Any) -> None:
    scim_filter = ScimFilter[model](expression)
    company_rows = listing.every_row(query)
    expected = sorted(
        int(str(resource.id))
        for resource in (to_resource(row, BASE_URL) for row in company_rows)
        if scim_filter.match(resource)
    )
    try:
        condition = to_sql(scim_filter)
    except filters.Untranslatable:
        # Only SQLite's ASCII-only lower() sends a stored attribute to Python.
        assert db.engine.dialect.name == "sqlite" and not expression.isascii(), expression
        return
    rows, total = listing.page(query, condition, offset=0, limit=500)
    assert sorted(row.id for row in rows) == expected, expression
    assert total == len(expected)


@pytest.mark.parametrize("expression", USER_PARITY)
def test_sql_and_match_agree_on_users(acme: Acme, crowd: dict[str, Any], expression: str) -> None:
    _parity(
        User,
        expand(expression, crowd),
        teammates.of_company(acme.company),
        filters.user_condition,
        mapping.to_user,
    )


@pytest.mark.parametrize("expression", GROUP_PARITY)
def test_sql_and_match_agree_on_groups(acme: Acme, crowd: dict[str, Any], expression: str) -> None:
    _parity(
        Group,
        expand(expression, crowd),
        teams.of_company(acme.company),
        filters.group_condition,
        mapping.to_group,
    )


@pytest.mark.parametrize(
    "expression",
    [
        'name.givenName eq "x"',
        'groups.type eq "direct"',
        'meta.location co "x"',
        'name eq "x"',
        'emails.value eq "x@example.com"',
        'emails[type eq "work"]',
        'roles.value eq "admin"',
    ],
)
def test_computed_attributes_are_left_to_python(expression: str) -> None:
    with pytest.raises(filters.Untranslatable):
        filters.user_condition(ScimFilter[User](expression))


# --- paging ------------------------------------------------------------------------------


def test_paging_with_start_index_and_count(scim: Scim, crowd: dict[str, Any]) -> None:
    everyone = ids(crowd, "admin", "alice", "bob", "carol", "dave", "erin")
    first = listed(scim, "startIndex=1&count=4")
    assert (first["totalResults"], first["startIndex"], first["itemsPerPage"]) == (6, 1, 4)
    second = listed(scim, "startIndex=5&count=4")
    assert (second["totalResults"], second["startIndex"], second["itemsPerPage"]) == (6, 5, 2)
    seen = [int(r["id"]) for r in first["Resources"] + second["Resources"]]
    assert seen == everyone  # in id order, each once
    beyond = listed(scim, "startIndex=50")
    assert beyond["totalResults"] == 6 and beyond["itemsPerPage"] == 0
    assert not beyond.get("Resources")


def test_paging_edges(scim: Scim, crowd: dict[str, Any]) -> None:
    only_total = listed(scim, "count=0")
    assert only_total["totalResults"] == 6 and not only_total.get("Resources")
    # RFC 7644 §3.4.2.4: startIndex < 1 is 1, a negative count is 0.
    assert listed(scim, "startIndex=0&count=1")["startIndex"] == 1
    assert listed(scim, "startIndex=-5&count=1")["Resources"][0]["userName"] == "admin@acme.test"
    assert listed(scim, "count=-1")["itemsPerPage"] == 0
    assert listed(scim, "startindex=2&COUNT=1")["startIndex"] == 2


def test_count_is_capped_at_max_results(scim: Scim, acme: Acme) -> None:
    for number in range(205):
        make_teammate(acme.company, email=f"bulk{number}@acme.test")
    body = listed(scim, "count=1000")
    assert body["totalResults"] == 208
    assert body["itemsPerPage"] == 200
    assert len(body["Resources"]) == 200
    assert listed(scim, "")["itemsPerPage"] == 100  # the default page


def test_filter_and_paging_together(scim: Scim, crowd: dict[str, Any]) -> None:
    expression = quote('userName sw "a"')
    body = listed(scim, f"filter={expression}&startIndex=2&count=1")
    assert body["totalResults"] == 2
    assert [r["userName"] for r in body["Resources"]] == ["alice@acme.test"]


def test_python_evaluated_filters_page_too(scim: Scim, crowd: dict[str, Any]) -> None:
    expression = quote("name.givenName pr")
    body = listed(scim, f"filter={expression}&startIndex=2&count=2")
    assert body["totalResults"] == 5
    assert [r["userName"] for r in body["Resources"]] == ["alice@acme.test", "bob@acme.test"]


def test_list_attributes(scim: Scim, acme: Acme) -> None:
    body = listed(scim, "attributes=userName&count=1")
    assert body["Resources"] == [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": str(acme.admin.id),
            "userName": "admin@acme.test",
        }
    ]
    body = listed(scim, "excludedAttributes=emails,name,meta&count=1")
    assert set(body["Resources"][0]) == {
        "schemas",
        "id",
        "userName",
        "displayName",
        "active",
        "roles",  # the first user is Acme's admin
    }


def test_groups_list_without_members(scim: Scim, acme: Acme) -> None:
    response = scim.get("/Groups?excludedAttributes=members")
    assert response.status_code == 200
    (group,) = response.get_json()["Resources"]
    assert "members" not in group


@pytest.mark.parametrize(
    "expression",
    ["userName eq", 'userName xx "a"', "(userName pr", 'bogus eq "x"', "userName eq 5", ""],
)
def test_a_bad_filter_is_400_invalid_filter(scim: Scim, expression: str) -> None:
    assert_scim_error(scim.get(f"/Users?filter={quote(expression)}"), 400, "invalidFilter")
