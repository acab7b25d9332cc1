"""Blueprints: one module per area of the web tier."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from intake_service.web import ops

    app.register_blueprint(ops.bp)
