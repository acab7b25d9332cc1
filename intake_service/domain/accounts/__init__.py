"""Staff accounts: creating, listing and disabling them; signing in with lockout."""
