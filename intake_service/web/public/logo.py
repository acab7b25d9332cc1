"""The clinic's logo, served for the public pages from the database.

Its address carries the start of its SHA-256, so a new logo is a new address and this one can
be cached for a year. The type is the one its bytes proved at upload (PNG or JPEG), and
nosniff (web/security_headers.py) keeps a browser from guessing another.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from flask.typing import ResponseReturnValue

from intake_service.db import get_db
from intake_service.domain import branding

bp = Blueprint("logo", __name__)

YEAR = 365 * 24 * 3600


@bp.get("/clinic/logo/<filename>")
def logo(filename: str) -> ResponseReturnValue:
    digest, _, extension = filename.partition(".")
    with get_db().session() as session:
        found = branding.logo_file(session, digest)
    if found is None or len(digest) < 16 or branding.EXTENSIONS[found[1].media_type] != extension:
        abort(404)
    data, ref = found
    response = Response(data, mimetype=ref.media_type)
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    response.headers["Content-Disposition"] = f'inline; filename="logo.{extension}"'
    # An image needs no policy of its own, but one that allows nothing costs nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.set_etag(ref.digest)
    return response.make_conditional(request)
