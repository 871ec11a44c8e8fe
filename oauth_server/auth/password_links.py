""" "Forgot password?" and "Set your password": the pages of an e-mailed password link.

The code travels in the query string of the e-mailed link (``/set-password?code=...``) and
then in the form's body, never in a path: request logs name the route and gunicorn's
access log the path without the query string, so no usable code reaches a log.
"""

from __future__ import annotations

from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from oauth_server import ratelimits
from oauth_server.auth.forms import ForgotPasswordForm
from oauth_server.auth.forms import SetPasswordForm
from oauth_server.auth.views import bp
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import limiter
from oauth_server.services import password_links
from oauth_server.services.password_links import LinkUnusable


def _reset_account_key() -> str:
    return "reset-" + ratelimits.account_key(request.form.get("email") or "")


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_RESET"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["RATELIMIT_RESET_ACCOUNT"],
    methods=["POST"],
    key_func=_reset_account_key,
)
def forgot_password() -> str | tuple[str, int]:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # The same answer whether or not the account exists; the e-mail is queued, never
        # sent here, so the answer takes about as long either way.
        password_links.request_reset(form.email.data or "")
        return render_template("auth/reset_sent.html")
    status = 400 if request.method == "POST" else 200
    return render_template("auth/forgot_password.html", form=form), status


def _unusable(error: LinkUnusable) -> tuple[str, int]:
    page = render_template("auth/link_unusable.html", message=error.message)
    return page, 400 if error.malformed else 410


@bp.route("/set-password", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def set_password() -> Response | tuple[str, int] | str:
    form = SetPasswordForm()
    if request.method == "GET":
        form.code.data = request.args.get("code", "")
    code = form.code.data or ""
    try:
        password_links.find(code)
    except LinkUnusable as error:
        return _unusable(error)
    if form.validate_on_submit():
        try:
            password_links.use(code, form.password.data or "")
        except LinkUnusable as error:
            return _unusable(error)
        except ValidationFailed as problem:
            form.password.errors = [problem.message]
        else:
            # Sign-in keeps its own steps (a second factor): the link opens no session.
            flash("Your password is set. Log in with it.", "info")
            return redirect(url_for("auth.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/set_password.html", form=form), status


@bp.after_request
def _no_store(response: Response) -> Response:
    if request.endpoint == "auth.set_password":
        response.headers["Cache-Control"] = "no-store"
    return response
