from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import InputRequired
from wtforms.validators import Length

from oauth_server.models import Company
from oauth_server.scopes import offered
from oauth_server.services.personal_tokens import NAME_MAX

EXPIRY_LABELS = {"": "Never", "7": "7 days", "30": "30 days", "90": "90 days", "365": "1 year"}


class NewTokenForm(FlaskForm):
    name = StringField(
        "Name", validators=[InputRequired("Name is required."), Length(max=NAME_MAX)]
    )
    scope = RadioField(
        "Permission scope", validators=[InputRequired("Choose a permission scope.")], choices=[]
    )
    expires_in_days = SelectField("Expiration", choices=list(EXPIRY_LABELS.items()), default="")

    def offer(self, company: Company) -> None:
        """Radio choices: only the scopes this company is offered now."""
        self.scope.choices = [(c.value, c.label) for c in offered(company)]
        self.descriptions = {c.value: c.description for c in offered(company)}


class AllowanceForm(FlaskForm):
    allowed = BooleanField("Allow API access to my private resources")


class ConfirmForm(FlaskForm):
    """A bare form: its CSRF token is the whole point."""
