"""The OpenAPI 3.1 description of API v1, built from the pydantic models in api_schema."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from intake_service.domain.intake.answers import TMS_ITEMS
from intake_service.web.api.schema import ErrorBody, SubmissionCreated, SubmissionRequest

_ERROR_STATUSES = {
    400: "Malformed JSON, a body that is not a JSON object, or a bad Idempotency-Key.",
    409: "The Idempotency-Key was already used for a different body; nothing was stored.",
    413: "The body is over 64 KiB.",
    415: "The body is not sent as application/json (UTF-8).",
    422: "The JSON is readable but a field is missing or invalid; see `errors`.",
    429: "Too many submissions from this address; wait Retry-After seconds.",
    500: "An unexpected failure; nothing was stored. Try again.",
    503: "The database is unreachable; nothing was stored. Try again after Retry-After seconds.",
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of API v1 (web.api serves it, serialised once)."""
    _, definitions = models_json_schema(
        [
            (SubmissionRequest, "validation"),
            (SubmissionCreated, "serialization"),
            (ErrorBody, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
    )
    retry_after = {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    responses: dict[str, Any] = {
        "201": {
            "description": "Stored (or, for a repeated Idempotency-Key and body, stored before).",
            "headers": {
                "Idempotent-Replayed": {
                    "description": "`true` when this answers a repeat of an earlier request.",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            },
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/SubmissionCreated"}}
            },
        }
    }
    for status, description in _ERROR_STATUSES.items():
        responses[str(status)] = {"description": description, "content": error_content}
        if status in (429, 503):
            responses[str(status)]["headers"] = {"Retry-After": retry_after}
    example = {
        "form": "contact",
        "contact": {
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane@example.com",
            "phone": "(310) 555-0123",
            "callback_window": "evening",
        },
        "treatment_interest": "tms",
        "message": "free text, up to 5000 characters",
        "answers": dict.fromkeys(TMS_ITEMS, True),
        "consent": {"sms": True, "email": True},
        "source": {"page": "https://clinic.example/tms", "utm_source": "google"},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Lead intake API",
            "version": "1",
            "description": (
                "Send a clinic website's form submissions. Unknown fields are refused (422); "
                "strings are trimmed; null means not given. Every error body is JSON with a "
                "sentence in `error`."
            ),
        },
        "paths": {
            "/api/v1/submissions": {
                "post": {
                    "operationId": "createSubmission",
                    "summary": "Submit a contact form, TMS self-screen, PHQ-9 or GAD-7.",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": (
                                "Any unique string (1-200 printable ASCII characters). A repeat "
                                "with the same body answers as the first time and stores nothing "
                                "new; a repeat with another body gets 409."
                            ),
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 200,
                                "pattern": "^[\\x20-\\x7E]+$",
                            },
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SubmissionRequest"},
                                "examples": {
                                    "contact": {"value": example},
                                    "phq9": {
                                        "value": {
                                            "form": "phq9",
                                            "contact": {"first_name": "Sam", "phone": "3105550123"},
                                            "answers": {"items": [1, 2, 1, 0, 2, 1, 1, 0, 0]},
                                        }
                                    },
                                },
                            }
                        },
                    },
                    "responses": responses,
                }
            }
        },
        "components": {"schemas": definitions["$defs"]},
    }
