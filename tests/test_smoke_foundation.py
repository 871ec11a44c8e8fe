from __future__ import annotations

from tests.conftest import bearer
from tests.conftest import login
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token


def test_an_admins_personal_token_reaches_me_and_shows_on_its_page(client):
    """/me names the token's kind and company; its settings page shows the value again."""
    company = make_company("Acme")
    admin = make_admin(company, email="admin@acme.test")
    token, value = make_personal_token(company, "shared", actor=admin)
    response = client.get("/api/v1/me", headers=bearer(value))
    assert response.status_code == 200
    assert response.json["kind"] == "personal"
    assert response.json["company"] == {"id": company.id, "name": "Acme"}
    login(client, "admin@acme.test")
    page = client.get(f"/settings/plugins-api/api/tokens/{token.id}")
    assert value in page.get_data(as_text=True)
