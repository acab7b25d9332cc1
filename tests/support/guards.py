"""An autouse guard: no test may send real mail or real texts.

SMTP may only reach 127.0.0.1/localhost (the in-process server), and nothing may reach
Twilio's API. The offending call fails at once with pytest's Failed (a BaseException, so no
`except Exception` in channel code can swallow it), and the test fails at teardown too.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from twilio.http.http_client import TwilioHttpClient

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class StrayGuard:
    violations: list[str] = field(default_factory=list)

    def block(self, what: str) -> None:
        self.violations.append(what)
        pytest.fail(f"stray send blocked: {what}", pytrace=False)


def _is_twilio(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "twilio.com" or host.endswith(".twilio.com")


@pytest.fixture(autouse=True)
def no_stray_sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[StrayGuard]:
    """Fail the test on SMTP to another host or any request to *.twilio.com.

    A test of the guard itself clears `violations` after checking them.
    """
    guard = StrayGuard()
    smtp_connect = smtplib.SMTP.connect  # SMTP_SSL inherits it
    twilio_request = TwilioHttpClient.request

    def guarded_connect(
        self: smtplib.SMTP, host: str = "localhost", *args: Any, **kwargs: Any
    ) -> Any:
        # smtplib accepts "host:port" in host.
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if name.strip("[]").lower() not in LOCAL_HOSTS:
            guard.block(f"SMTP connection to {host}")
        return smtp_connect(self, host, *args, **kwargs)

    def guarded_request(
        self: TwilioHttpClient, method: str, url: str, *args: Any, **kwargs: Any
    ) -> Any:
        if _is_twilio(url):
            guard.block(f"Twilio request {method} {urlsplit(url).path}")
        return twilio_request(self, method, url, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "connect", guarded_connect)
    monkeypatch.setattr(TwilioHttpClient, "request", guarded_request)
    yield guard
    if guard.violations:
        pytest.fail("stray sends were attempted: " + "; ".join(guard.violations), pytrace=False)
