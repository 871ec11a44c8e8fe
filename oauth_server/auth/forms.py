from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms.validators import InputRequired
from wtforms.validators import Length

from oauth_server.settings.forms import NoControlCharacters


class ForgotPasswordForm(FlaskForm):
    """ "Forgot password?": the sign-in e-mail alone."""

    email = EmailField(
        "Email",
        validators=[
            InputRequired("Enter your e-mail address."),
            Length(max=320),
            NoControlCharacters("An e-mail address"),
        ],
    )


class LoginForm(ForgotPasswordForm):
    """The sign-in e-mail, and the password."""

    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=200)],
    )
    next = HiddenField()


class SetPasswordForm(FlaskForm):
    """ "Set your password": the e-mailed link's code travels in the form's body."""

    code = HiddenField()
    password = PasswordField(
        "Password", validators=[InputRequired("Choose a password."), Length(max=200)]
    )


class ConfirmPasswordForm(FlaskForm):
    """Sudo mode's "Confirm your password". The field's name is not ``password``: the
    page may carry the fields of the form it interrupted, sent on with it."""

    sudo_password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=200)],
    )
    next = HiddenField()
