"""Webhooks: posts from other systems (Twilio, form builders), each proving its origin."""
