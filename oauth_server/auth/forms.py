from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms.validators import InputRequired
from wtforms.validators import Length

from oauth_server.settings.forms import NoControlCharacters


class LoginForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[
            InputRequired("Enter your e-mail address."),
            Length(max=320),
            NoControlCharacters("An e-mail address"),
        ],
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=200)],
    )
    next = HiddenField()


class ConfirmPasswordForm(FlaskForm):
    """Sudo mode's "Confirm your password". The field's name is not ``password``: the
    page may carry the fields of the form it interrupted, sent on with it."""

    sudo_password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=200)],
    )
    next = HiddenField()
