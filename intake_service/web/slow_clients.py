"""A deadline on each read of a request body, so a client that stalls mid-body gets a 408.

gunicorn's sync workers read the body only when the app asks for it, with no timeout of their
own: a client that sends half a body and stops would hold a worker until the arbiter kills it
(`--timeout`) and gunicorn answers its own 500. With a socket timeout on the connection, the
read fails first, and the app answers 408 with nothing stored (web/errors.py). Requests still
arriving header by header are gunicorn's to cut (see docs/operations.md: a buffering proxy in
front is the real defence against slow clients).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class BodyReadTimeout:
    """WSGI middleware: `seconds` allowed between two pieces of a body (gunicorn only)."""

    def __init__(self, app: WSGIApplication, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, request: WSGIEnvironment, start_response: StartResponse) -> Iterable[Any]:
        # The connection gunicorn hands its app (absent under other servers).
        connection = request.get("gunicorn.socket")
        if isinstance(connection, socket.socket):
            connection.settimeout(self.seconds)
        return self.app(request, start_response)
