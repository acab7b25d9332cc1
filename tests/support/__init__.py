"""Real stand-ins for the outside world: an SMTP server, a Twilio API, running processes."""
