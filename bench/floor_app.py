"""The floor for intake throughput: parse the form and hand a Celery task to Redis, no database.

Served by gunicorn with the same settings as the service (bench/intake_throughput.py), so the
ratio between the two is what the durable intake (one transaction, the outbox) costs.

    gunicorn bench.floor_app:app
"""

from __future__ import annotations

import os
import uuid

from celery import Celery
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

app = Flask(__name__)
celery = Celery(broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
                set_as_current=False)  # fmt: skip
QUEUE = os.environ.get("CELERY_QUEUE", "intake_floor")


@app.post("/api/v1/submissions")
def submit() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("contact"), dict):
        return jsonify(error="invalid"), 400
    lead_id = str(uuid.uuid4())
    celery.send_task("intake_service.tasks.process_lead", args=[lead_id], queue=QUEUE,
                     ignore_result=True)  # fmt: skip
    return jsonify(lead_id=lead_id), 201


@app.get("/readyz")
def ready() -> ResponseReturnValue:
    return jsonify(status="ok")
