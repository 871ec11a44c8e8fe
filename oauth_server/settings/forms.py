"""Forms of the settings pages. They check shape; the services decide what is allowed."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import EmailField
from wtforms import Field
from wtforms import Form
from wtforms import RadioField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields import SelectChoice  # type: ignore[attr-defined]  # WTForms 3.3; stubs 3.2
from wtforms.validators import AnyOf
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import StopValidation

from oauth_server import text
from oauth_server.errors import ValidationFailed
from oauth_server.models import Company
from oauth_server.models.teammate import EMAIL_MAX
from oauth_server.scopes import LABELS
from oauth_server.scopes import MESSAGES_SEND
from oauth_server.scopes import offered
from oauth_server.services import app_policy
from oauth_server.services import clients
from oauth_server.services.events import OVERLAP_HOURS
from oauth_server.services.personal_tokens import NAME_MAX

EXPIRY_LABELS = {"": "Never", "7": "7 days", "30": "30 days", "90": "90 days", "365": "1 year"}
MAX_LIFETIME_LABELS = {
    "": "None",
    "30": "30 days",
    "90": "90 days",
    "180": "180 days",
    "365": "365 days",
}
UNUSED_LABELS = {"": "Off", "30": "30 days", "90": "90 days", "180": "180 days"}


def _days(raw: str | None) -> int | None:
    """A validated days choice; None for "" (never, none, off)."""
    return int(raw) if raw and raw.isdigit() else None


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class NoControlCharacters:
    """The stored-text rule (oauth_server/text.py) as a form validator: the form is shown
    again with the error, and nothing reaches a service."""

    def __init__(self, label: str, *, multiline: bool = False) -> None:
        self.label = label
        self.multiline = multiline

    def __call__(self, form: Form, field: Field) -> None:
        broken = text.problem(field.data or "", multiline=self.multiline)
        if broken:
            raise StopValidation(f"{self.label} {broken}.")


class NewTokenForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[_strip],
        validators=[
            InputRequired("Name is required."),
            Length(max=NAME_MAX, message=f"Name must be at most {NAME_MAX} characters."),
            NoControlCharacters("Name"),
        ],
    )
    # Which scopes are offered is a rule of the service (issue_personal_token refuses the
    # others); the form only lists the current ones.
    scope = RadioField(
        "Permission scope",
        validators=[InputRequired("Choose a permission scope.")],
        choices=[],
        validate_choice=False,
    )
    # Only with a read-only choice (the service refuses it beside any other): a token that
    # reads and also posts messages, without the write access of the bare scope.
    send_messages = BooleanField(LABELS[MESSAGES_SEND])
    expires_in_days = SelectField(
        "Expiration",
        choices=[SelectChoice(value, label) for value, label in EXPIRY_LABELS.items()],
        default="",
        validate_choice=False,
        validators=[AnyOf(list(EXPIRY_LABELS), message="Choose one of the offered expirations.")],
    )

    def offer(self, company: Company, expiries: tuple[int | None, ...] | None = None) -> None:
        """Radio choices: only the scopes this company is offered now; expirations: only
        ``expiries`` (those the company's lifetime policy allows), the longest chosen
        until the admin chooses."""
        choices = offered(company)
        self.scope.choices = [SelectChoice(c.value, c.label) for c in choices]
        self.descriptions = {c.value: c.description for c in choices}
        if expiries is None:
            return
        values = ["" if days is None else str(days) for days in expiries]
        self.expires_in_days.choices = [SelectChoice(v, EXPIRY_LABELS[v]) for v in values]
        if values and (self.expires_in_days.data or "") not in values:
            if not self.is_submitted():
                self.expires_in_days.data = values[0] if "" in values else values[-1]

    @property
    def chosen_scope(self) -> str:
        """The radio choice, with ``messages:send`` when "Send messages" is ticked."""
        chosen = self.scope.data or ""
        return f"{chosen} {MESSAGES_SEND}" if self.send_messages.data else chosen

    @property
    def expiry_days(self) -> int | None:
        """The chosen expiration in days; None for "Never" (validated by AnyOf)."""
        raw = self.expires_in_days.data or ""
        return int(raw) if raw.isdigit() else None


class TokenPolicyForm(FlaskForm):
    """Plugins & API > API > Policy: the lifetime policy of personal tokens."""

    max_token_lifetime = SelectField(
        "Maximum token lifetime",
        choices=[SelectChoice(v, label) for v, label in MAX_LIFETIME_LABELS.items()],
        default="",
        validate_choice=False,
        validators=[AnyOf(list(MAX_LIFETIME_LABELS), message="Choose an offered maximum.")],
    )
    revoke_unused = SelectField(
        "Revoke tokens unused for",
        choices=[SelectChoice(v, label) for v, label in UNUSED_LABELS.items()],
        default="",
        validate_choice=False,
        validators=[AnyOf(list(UNUSED_LABELS), message="Choose an offered period.")],
    )

    @property
    def max_days(self) -> int | None:
        return _days(self.max_token_lifetime.data)

    @property
    def unused_days(self) -> int | None:
        return _days(self.revoke_unused.data)


class AllowanceForm(FlaskForm):
    allowed = BooleanField("Allow API access to my private resources")


class ConfirmForm(FlaskForm):
    """A bare form: its CSRF token is the whole point."""


def _grace_field() -> StringField:
    return StringField(
        "Refresh grace period (seconds)",
        filters=[_strip],
        default="0",
        validators=[_grace_in_range],
    )


def _grace_in_range(form: Form, field: Field) -> None:
    """Whole seconds, checked by the service's rule so that every door says the same;
    left empty (or not sent, by a client that predates the field): 0."""
    raw = field.data or "0"
    try:
        clients.check_refresh_grace(int(raw) if raw.isascii() and raw.isdigit() else None)
    except ValidationFailed as problem:
        raise StopValidation(problem.message) from None


def grace_seconds(field: Field) -> int:
    """A validated grace field's value."""
    return int(field.data or "0")


class RefreshGraceForm(FlaskForm):
    refresh_grace_seconds = _grace_field()


class MaxScopeForm(FlaskForm):
    max_scope = StringField(
        "Maximum scope",
        filters=[_strip],
        validators=[
            Length(max=1000, message="The maximum scope is too long."),
            NoControlCharacters("Maximum scope"),
        ],
    )


class NewAppForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[_strip],
        validators=[
            InputRequired("Name is required."),
            Length(
                max=clients.NAME_MAX,
                message=f"Name must be at most {clients.NAME_MAX} characters.",
            ),
            NoControlCharacters("Name"),
        ],
    )
    redirect_uris = TextAreaField(
        "Redirect URIs",
        validators=[
            InputRequired("Enter at least one redirect URI."),
            NoControlCharacters("Redirect URIs", multiline=True),
        ],
    )
    client_type = RadioField(
        "Type",
        choices=[
            SelectChoice("confidential", "Confidential (a server that keeps a secret)"),
            SelectChoice("public", "Public (a browser or mobile app, no secret)"),
        ],
        default="confidential",
        validators=[InputRequired()],
    )
    refresh_grace_seconds = _grace_field()


class PolicyForm(FlaskForm):
    """Apps with Access: "Third-party apps"."""

    third_party_apps = RadioField(
        "Third-party apps",
        choices=[SelectChoice(c.value, label) for c, label in app_policy.POLICY_LABELS.items()],
        validate_choice=False,  # the service says which values exist
    )


class TrustedDomainsForm(FlaskForm):
    """Apps with Access: trusted domains of metadata-document apps, one per line."""

    trusted_domains = TextAreaField("Trusted domains")


class TwoFactorRuleForm(FlaskForm):
    """Company settings > Teammates: "Require two-factor for admins"."""

    required = BooleanField("Require two-factor for admins")


class CodeForm(FlaskForm):
    """An authentication code: six digits of an authenticator app, or a recovery code
    (two-factor setup in Preferences, and sign-in's second step)."""

    code = StringField(
        "Authentication code",
        validators=[InputRequired("Enter the code."), Length(max=64)],
    )


class InviteForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[
            InputRequired("Enter the teammate's e-mail address."),
            Length(max=EMAIL_MAX),
            NoControlCharacters("An e-mail address"),
        ],
    )
    name = StringField(
        "Name", validators=[Length(max=200), NoControlCharacters("Name")], default=""
    )
    teams = SelectMultipleField("Teams", coerce=int, choices=[], validate_choice=False)
    admin = BooleanField("Admin")


class ScimInvitationsForm(FlaskForm):
    scim_invitations = BooleanField("Send invitations to teammates created by SCIM")


class EventUrlForm(FlaskForm):
    """Developers, per app: where its revocation events go (services/events.py)."""

    events_url = StringField("Event URL", filters=[_strip])


class RotateEventSecretForm(FlaskForm):
    overlap_hours = SelectField(
        "Old secret keeps signing for",
        choices=[SelectChoice(str(h), f"{h} hours" if h else "No overlap") for h in OVERLAP_HOURS],
        default="24",
    )
