"""Blueprints: one module per area of the web tier."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from intake_service.web import api, dev_outbox, intake, ops
    from intake_service.web.errors import register_error_handlers

    app.register_blueprint(intake.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(dev_outbox.bp)
    register_error_handlers(app)
    ops.init_metrics(app)
