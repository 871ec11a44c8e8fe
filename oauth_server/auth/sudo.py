"""Sudo mode: the actions that reveal a secret or widen access ask for the password again
when it was last entered more than SUDO_MODE_SECONDS ago.

A sign-in counts as an entry (services/sessions.start_session). The moment is kept on the
browser session's row, so it ends with the session and no cookie can claim it. Views that
need it are decorated with ``required``; without sudo mode:

- a GET (a form that creates something) is sent to "Confirm your password"
  (``/confirm-password``, auth/views.py), which comes back to it; a token's page is not
  decorated (its "Revoke access" must stay one click): it shows the value only when
  ``in_sudo_mode()``, else a link through the same page;
- a POST is answered with "Confirm your password" itself, carrying the fields the admin
  sent (never a password of theirs: the field is ``sudo_password``) back to the same
  action; the right password there runs the action in the same request, so nothing typed
  is lost and no field is stored anywhere in between.

The revocation buttons ("Revoke access", "Block app", "Revoke all third-party access",
"Sign out of all sessions") are never decorated: killing access stays one click.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any
from typing import ParamSpec

from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from oauth_server import ratelimits
from oauth_server.models.base import utcnow
from oauth_server.services import sessions
from oauth_server.services import teammates

if TYPE_CHECKING:
    from oauth_server.auth.forms import ConfirmPasswordForm

log = logging.getLogger("oauth_server.audit")

P = ParamSpec("P")
PASSWORD_FIELD = "sudo_password"
WRONG_PASSWORD = "Wrong password."
# Fields of the interrupted form that are not sent on: its CSRF token (the page has its
# own) and the password just typed.
_NOT_CARRIED = {"csrf_token", PASSWORD_FIELD}


def active(confirmed_at: datetime | None, now: datetime, seconds: int) -> bool:
    """Whether a password entered at ``confirmed_at`` still counts at ``now``."""
    return confirmed_at is not None and now - confirmed_at < timedelta(seconds=seconds)


def in_sudo_mode() -> bool:
    """The signed-in teammate entered their password within SUDO_MODE_SECONDS."""
    if not current_user.is_authenticated:
        return False
    return active(
        current_user.password_confirmed_at, utcnow(), current_app.config["SUDO_MODE_SECONDS"]
    )


def password_right(password: str) -> bool:
    """Check the signed-in teammate's password (rate-limited like sign-in); a right one
    starts sudo mode for this browser session."""
    ratelimits.spend_password_check(current_user.id)
    if teammates.authenticate(current_user.email, password) is None:
        log.info("password confirmation failed", extra={"teammate_id": current_user.id})
        return False
    sessions.confirm_password(current_user)
    return True


def sign_in_first() -> Response:
    """Flask-Login's answer to a visitor who is not signed in: the sign-in page."""
    unauthorized: Response = current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return unauthorized


def _here() -> str:
    """This request's path and query string, to come back to."""
    return request.full_path.rstrip("?")


def page(
    form: ConfirmPasswordForm, *, action: str, carried: list[tuple[str, str]] | None = None
) -> str:
    """The "Confirm your password" page: sent on to ``next`` (its own form) or, with
    ``carried``, to the interrupted action with the fields it had."""
    return render_template("auth/confirm_password.html", form=form, action=action, carried=carried)


def refused(
    form: ConfirmPasswordForm, *, action: str, carried: list[tuple[str, str]] | None = None
) -> tuple[str, int] | None:
    """The page again for a form sent incomplete (400) or with a wrong password (401);
    None for the right password, which started sudo mode."""
    if not form.validate():
        return page(form, action=action, carried=carried), 400
    if not password_right(form.sudo_password.data or ""):
        form.sudo_password.errors = [WRONG_PASSWORD]
        return page(form, action=action, carried=carried), 401
    return None


def required(view: Callable[P, Any]) -> Callable[P, Any]:
    """The view runs in sudo mode only; otherwise "Confirm your password" first."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> Any:
        if not current_user.is_authenticated:
            return sign_in_first()
        if in_sudo_mode():
            return view(*args, **kwargs)
        if request.method in ("GET", "HEAD"):
            return redirect(url_for("auth.confirm_password", next=_here()))
        # Here, not at the top: the settings pages import this module, and the forms of
        # auth import theirs.
        from oauth_server.auth.forms import ConfirmPasswordForm

        carried = [
            (name, value)
            for name, value in request.form.items(multi=True)
            if name not in _NOT_CARRIED
        ]
        if PASSWORD_FIELD not in request.form:
            return page(ConfirmPasswordForm(formdata=None), action=_here(), carried=carried)
        refusal = refused(ConfirmPasswordForm(), action=_here(), carried=carried)
        return refusal or view(*args, **kwargs)

    return guarded
