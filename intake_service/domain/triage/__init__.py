"""Triage: pure, versioned screening of a submission (scores, priority, candidacy, reasons)."""

from intake_service.domain.triage.screening import RULES_VERSION, Assessment, assess

__all__ = ["RULES_VERSION", "Assessment", "assess"]
