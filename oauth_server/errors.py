"""Domain errors raised by services; each surface translates them at its edge."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors a service raises for a rule the caller broke."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    """Input that breaks a rule of the domain (a name too long, a bad time zone)."""


class ScopeNotOffered(DomainError):
    """A scope the company is not offered (plan, Teams feature, unknown)."""


class NotAllowed(DomainError):
    """The actor may not do this."""


class NotFound(DomainError):
    """No such object in this company."""


class Conflict(DomainError):
    """The object already exists (a duplicate e-mail or name)."""


class ScopeRequired(NotAllowed):
    """The caller's token lacks ``scope`` (an API token reaching a team or private item)."""

    def __init__(self, message: str, *, scope: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.scope = scope
