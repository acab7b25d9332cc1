"""A local stand-in for Twilio's Messages API, for the real twilio SDK to talk to.

`TwilioStandin` serves POST/GET /2010-04-01/Accounts/{Sid}/Messages.json and
GET .../Messages/{Sid}.json on 127.0.0.1 with Twilio's JSON shapes, Basic auth and paging.
It records every request and accepted message, and can be scripted to fail, rate-limit or be
slow. The `twilio_standin` fixture starts one per test; end-to-end runs can start the class.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from intake_service.channels.segments import count_segments

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

API_VERSION = "2010-04-01"
_ROUTE = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages(?:/(?P<sid>[^/]+))?\.json$"
)

# Twilio's own wording for the errors tests script most often.
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "The 'To' number is not a valid phone number.",
    21408: (
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"
    ),
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}


def twilio_error(code: int, status: int, message: str | None = None) -> dict[str, Any]:
    """Twilio's error body: {"code", "message", "more_info", "status"}."""
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, f"Error {code}"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class _Canned:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    method: str | None = None  # answers only requests of this method; None: any request


@dataclass
class _Stored:
    resource: dict[str, Any]
    created: dt.datetime


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request drowns the test output


class TwilioStandin:
    """Twilio's Messages API on 127.0.0.1, thread-safe; `delay` makes every answer slow."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None) -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.delay = 0.0
        # Called with each accepted message before the API answers: Twilio can post a status
        # callback before the sender has even read the SID, and tests recreate that race here.
        self.on_create: Callable[[dict[str, Any]], None] | None = None
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._messages: list[_Stored] = []
        self._canned: deque[_Canned] = deque()
        self._stopping = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> TwilioStandin:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._server = server
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # cut any scripted delay short
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> TwilioStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the stand-in first"
        return f"http://127.0.0.1:{self._server.port}"

    def env(self, **overrides: str) -> dict[str, str]:
        """TWILIO_* settings pointing at this stand-in, for make_settings(**standin.env())."""
        values = {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": "+13105550100",
            "TWILIO_API_BASE_URL": self.base_url,
            "TWILIO_TIMEOUT": "2",
        }
        values.update(overrides)
        return values

    # -- what tests read and script ------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Accepted messages as Twilio would show them now, oldest first."""
        with self._lock:
            return [dict(stored.resource) for stored in self._messages]

    def fail_next(
        self, count: int = 1, status: int = 500, code: int | None = None, *, sends: bool = False
    ) -> None:
        """Answer the next `count` requests (only sends, POSTs, if `sends`) with a server error."""
        error = twilio_error(code or 20000 + status, status)
        method = "POST" if sends else None
        self._enqueue(_Canned(status, error, method=method) for _ in range(count))

    def rate_limit_next(self, count: int = 1, retry_after: float | None = 1) -> None:
        """Answer the next `count` requests with 429, with Retry-After when given."""
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        self._enqueue(_Canned(429, twilio_error(20429, 429), headers) for _ in range(count))

    def error_next(
        self, code: int = 21211, status: int = 400, count: int = 1, *, sends: bool = False
    ) -> None:
        """Answer the next `count` requests (only sends, POSTs, if `sends`) with error `code`."""
        method = "POST" if sends else None
        self._enqueue(
            _Canned(status, twilio_error(code, status), method=method) for _ in range(count)
        )

    def backdate(self, by: dt.timedelta) -> None:
        """Move every accepted message `by` into the past, as if time had passed since it."""
        with self._lock:
            for stored in self._messages:
                stored.created -= by
                for key in ("date_created", "date_sent", "date_updated"):
                    if stored.resource.get(key):
                        stored.resource[key] = format_datetime(stored.created)

    def _enqueue(self, canned: Iterable[_Canned]) -> None:
        with self._lock:
            self._canned.extend(canned)

    # -- the API -----------------------------------------------------------------------------

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = self._answer(Request(environ))
        if self.delay:
            self._stopping.wait(self.delay)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    query=request.args.to_dict(),
                    form=request.form.to_dict(),
                    headers=dict(request.headers),
                )
            )
        route = _ROUTE.match(request.path)
        if route is None:
            return _json(twilio_error(20404, 404), 404)
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (self.account_sid, self.auth_token):
            return _json(
                twilio_error(20003, 401), 401, {"WWW-Authenticate": 'Basic realm="Twilio API"'}
            )
        if route["account"] != self.account_sid:
            return _json(twilio_error(20404, 404), 404)
        with self._lock:
            canned = next((c for c in self._canned if c.method in (None, request.method)), None)
            if canned is not None:
                self._canned.remove(canned)
        if canned is not None:
            return _json(canned.body, canned.status, canned.headers)
        sid = route["sid"]
        if request.method == "POST" and sid is None:
            return self._create(request.form.to_dict())
        if request.method == "GET" and sid is None:
            return self._list(request.args.to_dict())
        if request.method == "GET":
            return self._fetch(sid)
        return _json(twilio_error(20004, 405, "Method not allowed"), 405)

    def _create(self, form: dict[str, str]) -> Response:
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return _json(twilio_error(21604, 400), 400)
        if not (sender or service):
            return _json(twilio_error(21603, 400), 400)
        if not body:
            return _json(twilio_error(21602, 400), 400)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        sid = "SM" + secrets.token_hex(16)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        resource: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": format_datetime(now),
            "date_sent": None,
            "date_updated": format_datetime(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(count_segments(body).segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # Through a Messaging Service a text is "accepted" until a sender is picked.
            "status": "accepted" if service and not sender else "queued",
            "status_callback": form.get("StatusCallback"),
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
            "to": to,
            "uri": uri,
        }
        # The stand-in hands every text to the carrier at once: what GET and list() show later.
        stored = dict(resource, status="sent", date_sent=format_datetime(now))
        with self._lock:
            self._messages.append(_Stored(stored, now))
            hook = self.on_create
        if hook is not None:
            hook(dict(resource))
        return _json(resource, 201)

    def _fetch(self, sid: str) -> Response:
        with self._lock:
            found = [s.resource for s in self._messages if s.resource["sid"] == sid]
        if not found:
            return _json(twilio_error(20404, 404), 404)
        return _json(found[0], 200)

    def _list(self, args: dict[str, str]) -> Response:
        with self._lock:
            stored = list(self._messages)
        # The SDK sends "DateSent>" and "DateSent<" keys, which read as >= and <= on the wire.
        after, before, on = args.get("DateSent>"), args.get("DateSent<"), args.get("DateSent")
        selected = [
            s.resource
            for s in reversed(stored)  # newest first, as Twilio lists them
            if args.get("To", s.resource["to"]) == s.resource["to"]
            and args.get("From", s.resource["from"]) == s.resource["from"]
            and (after is None or s.created >= _parse_date(after, end_of_day=False))
            and (before is None or s.created <= _parse_date(before, end_of_day=True))
            and (on is None or s.created.date() == _parse_date(on, end_of_day=False).date())
        ]
        size = max(1, min(int(args.get("PageSize", "50")), 1000))
        token = args.get("PageToken", "")
        start = int(token[2:]) if token.startswith("PA") else int(args.get("Page", "0")) * size
        page = start // size
        filters = {k: v for k, v in args.items() if k not in ("Page", "PageSize", "PageToken")}
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

        def page_uri(number: int) -> str:
            query = dict(filters, PageSize=str(size), Page=str(number))
            if number:
                query["PageToken"] = f"PA{number * size}"
            return f"{base}?{urlencode(query)}"

        records = selected[start : start + size]
        more = start + size < len(selected)
        return _json(
            {
                "messages": records,
                "end": start + max(len(records) - 1, 0),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if more else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": page_uri(page - 1) if page else None,
                "start": start,
                "uri": page_uri(page),
            },
            200,
        )


def _parse_date(value: str, *, end_of_day: bool) -> dt.datetime:
    """Twilio's date filters take YYYY-MM-DD or an ISO 8601 UTC timestamp."""
    if len(value) == 10:
        day = dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
        return day + dt.timedelta(days=1, microseconds=-1) if end_of_day else day
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers, content_type="application/json")


@pytest.fixture
def twilio_standin() -> Iterator[TwilioStandin]:
    """A running Twilio stand-in for this test."""
    with TwilioStandin() as standin:
        yield standin
