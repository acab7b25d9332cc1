"""The rules of intake that both doors (web forms and JSON API) share: one source for each."""

from __future__ import annotations

MAX_MESSAGE_CHARS = 5000
MAX_NAME_CHARS = 100
