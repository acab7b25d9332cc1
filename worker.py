"""Celery entry point: `celery -A worker worker` and `celery -A worker beat`.

Builds the Flask app (settings from the environment) and exposes its Celery app; nothing else.
"""

from intake_service import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
