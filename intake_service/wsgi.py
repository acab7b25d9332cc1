"""WSGI entry point for gunicorn: `gunicorn intake_service.wsgi:app`."""

from intake_service import create_app

app = create_app()
