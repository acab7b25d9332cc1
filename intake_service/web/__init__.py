"""Blueprints: one package or module per area of the web tier."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from intake_service.web import admin, dev_mailbox, ops, staff
    from intake_service.web.api import submissions
    from intake_service.web.errors import register_error_handlers
    from intake_service.web.public import pages
    from intake_service.web.staff import ack
    from intake_service.web.webhooks import forms as form_webhooks

    app.register_blueprint(pages.bp)
    app.register_blueprint(submissions.bp)
    app.register_blueprint(form_webhooks.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(ack.bp)
    app.register_blueprint(dev_mailbox.bp)
    app.register_blueprint(dev_mailbox.legacy)
    staff.init_app(app)
    app.register_blueprint(staff.bp)
    admin.init_app(app)
    register_error_handlers(app)
    ops.init_metrics(app)
