"""Company settings > Plugins & API > API > Apps with Access: one partner app's grant, and
its "Revoke access" button.

No OAuth token is ever created here: grants come only from the consent redirect.
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user
from werkzeug.wrappers import Response

from oauth_server import scopes
from oauth_server.models import OAuthGrant
from oauth_server.services import grants
from oauth_server.settings.api_tokens import revoke_access
from oauth_server.settings.blueprints import bp
from oauth_server.settings.blueprints import confirmed
from oauth_server.settings.blueprints import path_id
from oauth_server.settings.forms import ConfirmForm


def _grant(grant_id: str) -> OAuthGrant:
    return grants.company_grant(current_user.company, path_id(grant_id, "grant"))


@bp.get("/plugins-api/api/apps/<grant_id>")
def grant_detail(grant_id: str) -> str:
    company = current_user.company
    grant = _grant(grant_id)
    return render_template(
        "settings/grant_detail.html",
        grant=grant,
        scope_labels=[scopes.label(s, company.teams) for s in grant.scopes],
        form=ConfirmForm(),
    )


@bp.post("/plugins-api/api/apps/<grant_id>/revoke")
def revoke_grant(grant_id: str) -> Response:
    confirmed()
    grant = _grant(grant_id)
    name = grant.client.name
    return revoke_access(grant, name, nothing_left=f"“{name}” had no access left.")
