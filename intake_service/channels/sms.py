"""Texts through Twilio's Messages API, with the official SDK; Twilio errors are translated here."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from intake_service.channels import OutgoingMessage, PermanentError, TransientError, Unusable
from intake_service.config import TwilioSettings

TWILIO_API_HOST = "api.twilio.com"

# Error codes meaning this number will never take our texts: retrying only costs money, and
# the number is marked so that nothing more is tried there.
PERMANENT_CODES = {
    21211: "invalid_number",
    21408: "region_not_enabled",
    21610: "opted_out",  # the recipient texted STOP; Twilio blocks every send until START
    21614: "not_mobile",
}
OPT_OUT_CODE = 21610


# Error codes in status callbacks: Twilio took the text, then the carrier could not deliver it.
# The flag says whether the code is about the number itself (so nothing more should be texted
# to it) rather than this one attempt or our own sending (Twilio's error dictionary).
DELIVERY_ERRORS = {
    30003: ("unreachable", False),  # handset off or out of coverage: the number itself is fine
    30004: ("blocked", True),  # the recipient or their carrier blocks texts from us
    30005: ("unknown_number", True),  # the number does not exist, or no longer does
    30006: ("landline", True),  # a landline, or a carrier that cannot take texts
    30007: ("carrier_filtered", False),  # content or sender filtered as spam: our side to fix
    30008: ("unknown_error", False),  # the carrier gave no reason: nothing known about the number
}


def delivery_error(code: int | None) -> tuple[str, Unusable | None]:
    """(reason, the number's verdict if the code says it is dead) for a callback's ErrorCode."""
    if code in PERMANENT_CODES:
        reason = PERMANENT_CODES[code]
        return reason, Unusable(reason, opted_out=code == OPT_OUT_CODE)
    if code in DELIVERY_ERRORS:
        reason, dead = DELIVERY_ERRORS[code]
        return reason, Unusable(reason) if dead else None
    return (f"twilio_{code}" if code else "undelivered"), None


# Our own logger for the SDK's HTTP client, above INFO: its request lines carry query strings.
_SDK_LOG = logging.getLogger("intake_service.channels.twilio_http")
_SDK_LOG.setLevel(logging.WARNING)


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, pointed at `base_url` and remembering each thread's last response.

    The SDK builds absolute https://api.twilio.com URLs (next-page links included) and drops
    response headers when it raises, so both jobs belong at this level.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        # The SDK logs every request at INFO, a look-up's query (the patient's number) with it.
        super().__init__(timeout=timeout, logger=_SDK_LOG)
        self._base = urlsplit(base_url)
        self._local = threading.local()
        # requests reads the proxy variables by walking the whole environment twice per request
        # (a fiftieth of a worker's CPU). For the one host called here, requests' own reading
        # (proxies, NO_PROXY, the CA bundle) is taken once and kept; netrc does not apply, as
        # every request carries its auth.
        if self.session is not None:  # always: pool_connections is left on
            found = self.session.merge_environment_settings(base_url, {}, None, None, None)
            self.proxy = found["proxies"]
            self.session.verify = found["verify"]
            self.session.trust_env = False

    @property
    def last_response(self) -> Response | None:
        response: Response | None = getattr(self._local, "response", None)
        return response

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.hostname != TWILIO_API_HOST:
            return url
        path = self._base.path.rstrip("/") + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        self._local.response = None
        response = super().request(method, self.rewrite(url), *args, **kwargs)
        self._local.response = response
        return response


# Texts to one recipient read back when reconciling; a patient gets a handful from us.
RECONCILE_LIMIT = 100


class TwilioChannel:
    kind = "sms"

    def __init__(self, twilio: TwilioSettings) -> None:
        self._twilio = twilio
        self._http = BaseUrlHttpClient(twilio.api_base_url, twilio.timeout)
        self._client = Client(
            twilio.account_sid,
            twilio.auth_token,
            http_client=self._http,
            # Settings are the only configuration: given an empty mapping the SDK falls back to
            # os.environ, where TWILIO_EDGE or TWILIO_REGION would reroute every request.
            environment={"TWILIO_ACCOUNT_SID": twilio.account_sid},
        )

    def send(self, message: OutgoingMessage) -> str:
        """Create the message at Twilio; return its SID. Raises TransientError or PermanentError."""
        options: dict[str, Any] = {"to": message.recipient, "body": message.body_text}
        # A Messaging Service queues bursts on Twilio's side, so it wins over a bare number.
        if self._twilio.messaging_service_sid:
            options["messaging_service_sid"] = self._twilio.messaging_service_sid
        else:
            options["from_"] = self._twilio.from_number
        if message.status_callback:
            options["status_callback"] = message.status_callback
        try:
            created = self._client.messages.create(**options)
        except (TwilioException, requests.RequestException) as error:
            raise self._translate(error) from None
        return str(created.sid)

    def find_existing(self, message: OutgoingMessage, since: dt.datetime) -> str | None:
        """The SID of a text with this body sent to this recipient since `since`, else None.

        For reconciling after a crash between Twilio's answer and our record of it. No date
        filter: Twilio's is on the date *sent*, which a text still queued inside a Messaging
        Service does not have yet; the recent texts to one patient are few, so the newest
        RECONCILE_LIMIT are read and compared instead. Raises TransientError or PermanentError.
        """
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        # Twilio's dates have whole seconds.
        floor = since.astimezone(dt.UTC).replace(microsecond=0)
        try:
            for record in self._client.messages.stream(
                to=message.recipient, limit=RECONCILE_LIMIT, page_size=RECONCILE_LIMIT
            ):
                created = record.date_created
                if record.body == message.body_text and (created is None or created >= floor):
                    return str(record.sid)
        except (TwilioException, requests.RequestException) as error:
            raise self._translate(error) from None
        return None

    def _translate(self, error: Exception) -> TransientError | PermanentError:
        """Map an SDK or transport error to ours. Twilio's text can quote the number: not kept."""
        # Only a connection never made proves Twilio did not take the text; a read timeout or a
        # connection cut mid-answer may follow a text Twilio created (and sends).
        if isinstance(error, requests.ConnectTimeout):  # before Timeout and ConnectionError
            return TransientError("timeout", "connect")
        if isinstance(error, requests.Timeout):
            return TransientError("timeout", "read", maybe_sent=True)
        if isinstance(error, requests.ConnectionError):
            return TransientError(
                "connection", type(error).__name__, maybe_sent=not _never_connected(error)
            )
        if isinstance(error, requests.RequestException):
            return TransientError("connection", type(error).__name__, maybe_sent=True)
        if isinstance(error, TwilioRestException | TwilioServiceException):
            return translate_twilio_error(error.status, error.code, self._retry_after())
        # A list page that was not 200 comes back as a bare TwilioException.
        return TransientError("twilio_error", type(error).__name__)

    def _retry_after(self) -> float | None:
        response = self._http.last_response
        if response is None or not response.headers:
            return None
        return parse_retry_after(response.headers.get("Retry-After"))


_local = threading.local()


def channel_for(twilio: TwilioSettings) -> TwilioChannel:
    """This thread's TwilioChannel for these settings, made once and reused.

    A client per text cost a new HTTPS session (TLS handshake, CA store) each time. The SDK's
    HTTP client holds a requests.Session, which is not documented as thread-safe, and
    BaseUrlHttpClient keeps the last response per thread anyway: so one client per thread.
    """
    cached: dict[TwilioSettings, TwilioChannel] | None = getattr(_local, "channels", None)
    if cached is None:
        cached = _local.channels = {}
    channel = cached.get(twilio)
    if channel is None:
        channel = cached[twilio] = TwilioChannel(twilio)
    return channel


def translate_twilio_error(
    status: int, code: int | None, retry_after: float | None = None
) -> TransientError | PermanentError:
    """Our error for a Twilio API error response (HTTP status and Twilio error code)."""
    detail = f"http {status}, twilio {code}"
    if code in PERMANENT_CODES:
        reason = PERMANENT_CODES[code]
        unusable = Unusable(reason, opted_out=code == OPT_OUT_CODE)
        return PermanentError(reason, detail, unusable=unusable)
    if status == 429:
        return TransientError("rate_limited", detail, retry_after=retry_after)
    if status == 401 or code == 20003:
        # Wrong SID or token: a configuration fix makes the very same send work, so the
        # message is kept for retries (and the final failure) rather than dropped at once.
        return TransientError("auth_failed", detail)
    if status >= 500:
        # A 5xx can come after the text was created: ask before sending again.
        return TransientError("server_error", detail, retry_after=retry_after, maybe_sent=True)
    if status >= 400:
        return PermanentError(f"twilio_{code or status}", detail)
    return TransientError("twilio_error", detail)


def _never_connected(error: requests.ConnectionError) -> bool:
    """True when the connection itself failed (refused, no route, DNS), so nothing was sent."""
    cause = error.args[0] if error.args else None
    if isinstance(cause, urllib3.exceptions.MaxRetryError):  # how requests wraps urllib3's
        cause = cause.reason
    return isinstance(cause, urllib3.exceptions.NewConnectionError)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
