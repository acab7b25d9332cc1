"""In the staff and admin apps, a NUL in a query or form field is a 400 before any view reads it.

PostgreSQL's text types cannot hold U+0000 (psycopg raises DataError) where SQLite stores it:
a NUL pasted into a sign-in email, a note or a template would be kept on the embedded default
and fail with a 500 in production. No person means one. The patients' doors answer for their
own fields, more gently: the forms beside the field, the attribution in a query dropped
(tests/web/test_control_characters.py), the JSON API by its schema, Twilio's webhooks after
the signature.
"""

from __future__ import annotations

from flask import Response, request

from intake_service.web.errors import error_response

NUL = "\x00"
SENTENCE = (
    "A field holds a character that cannot be stored (NUL, often from a copy and paste). "
    "Remove it and send the form again."
)


def refuse_nul() -> Response | None:
    """A blueprint's before_request: the 400 for a NUL anywhere in the query or the form."""
    # A body that is not a form (JSON) reads as an empty form and is left for its view.
    for name, values in [*request.args.lists(), *request.form.lists()]:
        if NUL in name or any(NUL in value for value in values):
            return error_response(400, SENTENCE)
    return None
