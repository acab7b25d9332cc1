"""POST /webhooks/forms/<source>: leads from a clinic's own form builder.

The post proves its source by an HMAC-SHA256 signature of the raw body (the header the
source's map names) or by the secret in its path; anything else is 403 with nothing read
further and nothing stored. A proven post is mapped by its field map and goes through the
same intake.submit (check, one transaction, rate limit) as the service's own forms.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from intake_service.db import get_db
from intake_service.domain import intake
from intake_service.domain.intake import form_builders, rules
from intake_service.extensions import client_address, csrf, submission_limit
from intake_service.security.form_signatures import valid_secret, valid_signature
from intake_service.web.api.schema import safe_errors
from intake_service.web.errors import error_response, limited_response

log = logging.getLogger(__name__)

bp = Blueprint("form_webhooks", __name__)
csrf.exempt(bp)  # authenticated by the source's secret, never by a browser's cookies

FORBIDDEN = "This post is not signed with this form builder's secret."
UNKNOWN = "There is no form builder of that name."


@bp.post("/webhooks/forms/<source>")
@submission_limit
def signed_post(source: str) -> ResponseReturnValue:
    mapping, secret = _configured(source)
    if mapping is None or secret is None:
        return error_response(404, UNKNOWN)
    header = request.headers.get(mapping.signature.header, "") if mapping.signature else ""
    if mapping.signature is None or not valid_signature(
        secret,
        request.get_data(cache=True),
        header,
        mapping.signature.encoding,
        mapping.signature.prefix,
    ):
        log.warning("form webhook from %s refused: bad or missing signature", source)
        return error_response(403, FORBIDDEN)
    return _accept(mapping)


@bp.post("/webhooks/forms/<source>/<path:secret_in_path>")
@submission_limit
def secret_path_post(source: str, secret_in_path: str) -> ResponseReturnValue:
    mapping, secret = _configured(source)
    if mapping is None or secret is None:
        return error_response(404, UNKNOWN)
    if not valid_secret(secret, secret_in_path):
        log.warning("form webhook from %s refused: wrong secret path", source)
        return error_response(403, FORBIDDEN)
    return _accept(mapping)


def _configured(source: str) -> tuple[form_builders.FieldMap | None, str | None]:
    try:
        mapping = form_builders.field_map(source)
    except form_builders.UnknownSource:
        return None, None
    secret = current_app.extensions["intake.settings"].form_webhook_secrets.get(source)
    return mapping, secret


def _accept(mapping: form_builders.FieldMap) -> ResponseReturnValue:
    document = _document(mapping.body)
    if document is None:
        return error_response(400, "Send the form's fields as JSON or as a form post.")
    try:
        data = form_builders.to_submission(
            mapping,
            document,
            ip=client_address(),
            user_agent=rules.user_agent(request.headers.get("User-Agent")),
        )
        accepted = intake.submit(get_db(), data)
    except intake.InvalidSubmission as error:
        return error_response(422, "Some fields need attention.", errors=safe_errors(error.errors))
    except intake.SubmissionLimited as limited:
        return limited_response(limited)
    except intake.IdempotencyConflict:
        return error_response(409, "This entry was already sent with different content.")
    response: Response = jsonify(
        {
            "lead_id": str(accepted.lead_id),
            "submission_id": str(accepted.submission_id),
            "urgent": accepted.urgent,
        }
    )
    response.status_code = 200 if accepted.replayed else 201
    return response


def _document(body: str) -> dict[str, Any] | None:
    if body == "form":
        return request.form.to_dict() if request.mimetype in _FORM_TYPES else None
    try:
        document = json.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
