"""Database models, one module per aggregate."""

from __future__ import annotations

from oauth_server.models.app_policy import AppApproval
from oauth_server.models.app_policy import AppBlock
from oauth_server.models.app_policy import AppPolicy
from oauth_server.models.audit import AuditEvent
from oauth_server.models.base import Base
from oauth_server.models.clients import OAuthClient
from oauth_server.models.company import Company
from oauth_server.models.company import Plan
from oauth_server.models.events import DeliveryStatus
from oauth_server.models.events import EventDelivery
from oauth_server.models.grants import AuthorizationCode
from oauth_server.models.grants import OAuthGrant
from oauth_server.models.grants import OAuthToken
from oauth_server.models.jobs import Job
from oauth_server.models.jobs import JobState
from oauth_server.models.password_links import PasswordLink
from oauth_server.models.personal_tokens import PersonalToken
from oauth_server.models.resources import RESOURCE_MODELS
from oauth_server.models.resources import Channel
from oauth_server.models.resources import Contact
from oauth_server.models.resources import Conversation
from oauth_server.models.resources import Inbox
from oauth_server.models.resources import Message
from oauth_server.models.resources import OwnedResource
from oauth_server.models.resources import Rule
from oauth_server.models.resources import Shift
from oauth_server.models.resources import Tag
from oauth_server.models.security import RecoveryCode
from oauth_server.models.security import SecurityPolicy
from oauth_server.models.security import TwoFactor
from oauth_server.models.sessions import BrowserSession
from oauth_server.models.team import Team
from oauth_server.models.team import team_memberships
from oauth_server.models.teammate import Teammate

__all__ = [
    "AppApproval",
    "AppBlock",
    "AppPolicy",
    "AuditEvent",
    "AuthorizationCode",
    "OAuthClient",
    "OAuthGrant",
    "OAuthToken",
    "Base",
    "BrowserSession",
    "Channel",
    "Company",
    "Contact",
    "Conversation",
    "DeliveryStatus",
    "EventDelivery",
    "Inbox",
    "Job",
    "JobState",
    "Message",
    "OwnedResource",
    "PasswordLink",
    "PersonalToken",
    "RecoveryCode",
    "SecurityPolicy",
    "Plan",
    "RESOURCE_MODELS",
    "Rule",
    "Shift",
    "Tag",
    "Team",
    "Teammate",
    "TwoFactor",
    "team_memberships",
]
