"""Typed settings, read from the environment in one place and validated at start-up.

`settings` holds the Settings dataclass and its one reader of the environment; `providers` the
settings of SMTP, Twilio and delivery; `readers` the parsers of single values.
"""

from intake_service.config.providers import (
    DeliverySettings,
    SmsPace,
    SmtpSettings,
    TwilioSettings,
)
from intake_service.config.readers import ConfigError
from intake_service.config.settings import Settings

__all__ = [
    "ConfigError",
    "DeliverySettings",
    "Settings",
    "SmsPace",
    "SmtpSettings",
    "TwilioSettings",
]
