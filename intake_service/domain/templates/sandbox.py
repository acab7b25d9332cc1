"""The bounded sandbox message templates run in: no Python internals, no runaway work.

Jinja2's sandbox stops `{{ ''.__class__.__mro__ }}` and friends; it does not stop a template an
admin saved (or an attacker with an admin's session) from asking for `'x' * 10**9`, a loop of a
million iterations inside a million, or `'{:>999999999}'.format(1)`, any of which would stall a
worker or the admin page. So, on top of the immutable sandbox:
- no globals but a `range` of at most MAX_RANGE items (no namespace: nothing accumulates);
- every repeat, concatenation and power, every filter and every call checked for size: numbers
  given to them at most MAX_NUMBER_ARGUMENT, strings at most MAX_STRING_ARGUMENT, values built at
  most MAX_VALUE; `str.format` refused (its width specs run in C, unchecked);
- each render stops after MAX_LINES template lines, MAX_SECONDS or MAX_MEMORY_GROWTH of memory,
  and its output after MAX_OUTPUT characters.
Legitimate message templates come nowhere near any of these.
"""

from __future__ import annotations

import functools
import re
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sized
from contextlib import contextmanager
from types import FrameType
from typing import Any

from jinja2 import Template, Undefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_SOURCE_CHARS = 20_000
MAX_RANGE = 1_000
MAX_NUMBER_ARGUMENT = 1_000
MAX_STRING_ARGUMENT = 1_000
MAX_VALUE = 20_000  # characters of a string, items of a list, that any one step may build
MAX_OUTPUT = 200_000
MAX_LINES = 50_000
MAX_SECONDS = 1.0
MAX_MEMORY_GROWTH_KB = 256 * 1024
MAX_POWER_BITS = 10_000
TEMPLATE_FILENAME = "<template>"
# printf-style widths or precisions of four digits or more, or taken from an argument ("*").
_WIDE_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{4,})|%[^a-zA-Z%]*\.(?:\*|\d{4,})")


class TemplateLimit(SecurityError):
    """A template asked for more than a message template may: too big, too long, too slow."""


def _check_number(value: Any) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and abs(value) > MAX_NUMBER_ARGUMENT:
        raise TemplateLimit(
            f"numbers given to filters and methods are capped at {MAX_NUMBER_ARGUMENT}"
        )


def _check_argument(value: Any) -> None:
    _check_number(value)
    if isinstance(value, str) and len(value) > MAX_STRING_ARGUMENT:
        raise TemplateLimit(
            f"strings given to filters and methods are capped at {MAX_STRING_ARGUMENT}"
        )


def _check_value(value: Any) -> Any:
    if isinstance(value, Sized) and not isinstance(value, Undefined) and len(value) > MAX_VALUE:
        raise TemplateLimit(f"a value built in a template is capped at {MAX_VALUE} items")
    return value


def _bounded_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    # Context-, eval-context- and environment-taking filters get that first, then the value.
    value_position = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        for argument in (*args[value_position + 1 :], *kwargs.values()):
            _check_argument(argument)
        if function.__name__ == "do_format" and len(args) > value_position:
            _check_printf(args[value_position])
        return _check_value(function(*args, **kwargs))

    return bounded


def _check_printf(pattern: Any) -> None:
    if isinstance(pattern, str) and _WIDE_PRINTF.search(pattern):
        raise TemplateLimit("printf-style widths and precisions are capped at three digits")


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimit(f"range() is capped at {MAX_RANGE} items in a message template")
    return numbers


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with sizes checked; see the module docstring."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals.clear()
        self.globals["range"] = _bounded_range
        self.filters = {name: _bounded_filter(f) for name, f in self.filters.items()}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        integers = isinstance(left, int) and isinstance(right, int)
        power = operator == "**" and integers and right > 0
        if power and max(left.bit_length(), 1) * right > MAX_POWER_BITS:
            raise TemplateLimit("that power is too large for a message template")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                repeat = isinstance(sequence, str | list | tuple) and isinstance(count, int)
                if repeat and len(sequence) * count > MAX_VALUE:
                    raise TemplateLimit(f"a repeated value is capped at {MAX_VALUE} items")
        if operator == "%":
            _check_printf(left)
        joined = isinstance(left, str | list | tuple) and isinstance(right, Sized)
        if operator == "+" and joined and len(left) + len(right) > MAX_VALUE:
            raise TemplateLimit(f"a joined value is capped at {MAX_VALUE} items")
        return _check_value(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # Jinja hands `'...'.format` out wrapped in its safe formatter; refuse it instead.
        if super().wrap_str_format(value) is not None:
            raise SecurityError("str.format is not available in message templates")
        return None

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if __obj is not _bounded_range:
            for argument in (*args, *kwargs.values()):
                _check_argument(argument)
        return _check_value(super().call(__context, __obj, *args, **kwargs))

    @functools.lru_cache(maxsize=512)  # noqa: B019  (environments live as long as the process)
    def compiled(self, source: str) -> Template:
        """`source` compiled once; raises TemplateLimit for an over-long template."""
        if len(source) > MAX_SOURCE_CHARS:
            raise TemplateLimit(f"a message template is capped at {MAX_SOURCE_CHARS} characters")
        return self.from_string(source)


def _max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@contextmanager
def _watched() -> Iterator[None]:
    """Count the template's lines as they run; stop it past the line, time or memory budget."""
    started = time.monotonic()
    memory_at_start = _max_rss_kb()
    lines = 0

    def on_line(frame: FrameType, event: str, _arg: Any) -> Any:
        nonlocal lines
        if event == "line":
            lines += 1
            if lines > MAX_LINES:
                raise TemplateLimit(f"a message template may run at most {MAX_LINES} lines")
            if lines % 256 == 0:
                if time.monotonic() - started > MAX_SECONDS:
                    raise TemplateLimit(f"a message template must render in {MAX_SECONDS:g} s")
                if _max_rss_kb() - memory_at_start > MAX_MEMORY_GROWTH_KB:
                    raise TemplateLimit("a message template used too much memory")
        return on_line

    def on_call(frame: FrameType, _event: str, _arg: Any) -> Any:
        # Only the template's own compiled code is counted; Jinja's runtime and filters run free.
        return on_line if frame.f_code.co_filename == TEMPLATE_FILENAME else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield
    finally:
        sys.settrace(previous)


def render_bounded(environment: BoundedSandbox, source: str, context: dict[str, Any]) -> str:
    """Render `source` within the limits; raises TemplateLimit, or Jinja's and Python's errors."""
    template = environment.compiled(source)
    size = 0
    parts = []
    with _watched():
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateLimit(f"a message is capped at {MAX_OUTPUT} characters")
            parts.append(chunk)
    return "".join(parts)
