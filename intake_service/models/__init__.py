"""The persistent model: one module per aggregate. Importing this registers every table."""

from intake_service.models.abuse import BlockedValue, SmsPause, TextVolume
from intake_service.models.account_link import AccountLink
from intake_service.models.audit import AuditEvent
from intake_service.models.clinic_setting import ClinicAsset, ClinicSetting
from intake_service.models.consent import ConsentEvent, PhoneOptOut
from intake_service.models.consent_archive import ArchivedConsent
from intake_service.models.dev_mailbox import DevMailboxEntry
from intake_service.models.escalation import Escalation
from intake_service.models.inbound import InboundMessage, PendingStatus, ProcessedWebhook
from intake_service.models.lead import Lead, Submission
from intake_service.models.lead_event import CallbackRequest, LeadEvent
from intake_service.models.lead_index import leads_with_email, leads_with_phone
from intake_service.models.message import (
    DeliveryAttempt,
    InvalidTransition,
    Message,
    MessageStatus,
)
from intake_service.models.outbox import OutboxEvent
from intake_service.models.routing import QueueMember, RoutingQueue, RoutingRule
from intake_service.models.sequence import Sequence, SequenceStep, SequenceVersion
from intake_service.models.template import Template, TemplateVersion
from intake_service.models.triage import Triage
from intake_service.models.urgent import UrgentPage
from intake_service.models.user import LoginAttempt, User
from intake_service.models.worker import WorkerHeartbeat

__all__ = [
    "AccountLink",
    "ArchivedConsent",
    "AuditEvent",
    "BlockedValue",
    "CallbackRequest",
    "ClinicAsset",
    "ClinicSetting",
    "ConsentEvent",
    "DeliveryAttempt",
    "DevMailboxEntry",
    "Escalation",
    "InboundMessage",
    "InvalidTransition",
    "Lead",
    "LeadEvent",
    "LoginAttempt",
    "Message",
    "MessageStatus",
    "OutboxEvent",
    "PendingStatus",
    "PhoneOptOut",
    "ProcessedWebhook",
    "QueueMember",
    "RoutingQueue",
    "RoutingRule",
    "Sequence",
    "SequenceStep",
    "SequenceVersion",
    "SmsPause",
    "Submission",
    "Template",
    "TemplateVersion",
    "TextVolume",
    "Triage",
    "UrgentPage",
    "User",
    "WorkerHeartbeat",
    "leads_with_email",
    "leads_with_phone",
]
