"""Preferences > Two-factor: set it up (a secret to scan, then a code), new recovery
codes, turn it off. Each needs sudo mode; the secret and the recovery codes are shown on
one page each, once (services/two_factor.py keeps the rules)."""

from __future__ import annotations

from typing import Any

import segno
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from oauth_server.auth import sudo
from oauth_server.errors import NotAllowed
from oauth_server.services import two_factor
from oauth_server.settings.blueprints import confirmed
from oauth_server.settings.blueprints import preferences_bp
from oauth_server.settings.forms import CodeForm

PREFERENCES = "preferences.preferences"


def _setup_page(secret: str, form: CodeForm) -> str:
    uri = two_factor.provisioning_uri(secret, current_user)
    return render_template(
        "two_factor_setup.html",
        form=form,
        secret=secret,
        uri=uri,
        qr_svg=segno.make(uri, error="m").svg_inline(scale=4, title="QR code of the secret"),
    )


def _codes_page(codes: list[str]) -> str:
    return render_template("two_factor_codes.html", codes=codes)


@preferences_bp.route("/preferences/two-factor/setup", methods=["GET", "POST"])
@sudo.required
def two_factor_setup() -> Any:
    """ "Set up two-factor": a new secret on each visit, on until a code of it is confirmed."""
    if two_factor.is_enabled(current_user.id):
        flash("Two-factor is already on.", "info")
        return redirect(url_for(PREFERENCES))
    if request.method == "GET":
        return _setup_page(two_factor.begin_enrolment(current_user), CodeForm(formdata=None))
    form = CodeForm()
    secret = two_factor.pending_secret(current_user)
    if secret is None:
        flash("Start the two-factor setup again.", "error")
        return redirect(url_for("preferences.two_factor_setup"))
    if not form.validate_on_submit():
        return _setup_page(secret, form), 400
    try:
        codes = two_factor.confirm_enrolment(current_user, form.code.data or "")
    except two_factor.InvalidCode as error:
        form.code.errors = [error.message]
        return _setup_page(secret, form), 400
    except NotAllowed as error:
        flash(error.message, "error")
        return redirect(url_for("preferences.two_factor_setup"))
    flash("Two-factor is on.", "info")
    return _codes_page(codes)


@preferences_bp.post("/preferences/two-factor/recovery-codes")
@sudo.required
def two_factor_codes() -> Any:
    """ "New recovery codes": the old ones stop working."""
    confirmed()
    try:
        codes = two_factor.new_recovery_codes(current_user)
    except NotAllowed as error:
        flash(error.message, "error")
        return redirect(url_for(PREFERENCES))
    flash("New recovery codes made: the old ones no longer work.", "info")
    return _codes_page(codes)


@preferences_bp.post("/preferences/two-factor/off")
@sudo.required
def two_factor_off() -> Any:
    """ "Turn off two-factor"."""
    confirmed()
    try:
        two_factor.turn_off(current_user)
    except NotAllowed as error:
        flash(error.message, "error")
        return redirect(url_for(PREFERENCES))
    flash("Two-factor is off.", "info")
    return redirect(url_for(PREFERENCES))
