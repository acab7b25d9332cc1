"""Webhooks: calls from providers, each signed, answered quickly, processed exactly once."""
