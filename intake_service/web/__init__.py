"""Blueprints: one package or module per area of the web tier."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from intake_service.extensions import csrf
    from intake_service.web import admin, dev_mailbox, ops, staff
    from intake_service.web.api import submissions
    from intake_service.web.errors import register_error_handlers
    from intake_service.web.public import embed, logo, pages, unsubscribe
    from intake_service.web.staff import ack
    from intake_service.web.webhooks import forms as form_webhooks
    from intake_service.web.webhooks import twilio

    app.register_blueprint(pages.bp)
    app.register_blueprint(embed.bp)
    app.register_blueprint(logo.bp)
    app.register_blueprint(submissions.bp)
    app.register_blueprint(form_webhooks.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(ack.bp)
    app.register_blueprint(dev_mailbox.bp)
    app.register_blueprint(dev_mailbox.legacy)
    staff.init_app(app)
    app.register_blueprint(staff.bp)
    admin.init_app(app)
    app.register_blueprint(unsubscribe.bp)
    app.register_blueprint(twilio.bp)
    # Signed by Twilio or by our own unsubscribe token: a CSRF token has no place in either.
    csrf.exempt(twilio.bp)
    csrf.exempt(unsubscribe.bp)
    # A third-party frame gets no session cookie: the embedded forms carry a signed token that
    # needs none, checked by the view (web/public/embed.py).
    csrf.exempt(embed.bp)
    register_error_handlers(app)
    ops.init_metrics(app)
