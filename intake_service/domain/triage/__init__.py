"""Triage: pure, versioned screening of a submission (scores, priority, candidacy, reasons),
PHQ-9/GAD-7 scales and crisis language in free text."""

from intake_service.domain.triage.screening import RULES_VERSION, Assessment, assess

__all__ = ["RULES_VERSION", "Assessment", "assess"]
