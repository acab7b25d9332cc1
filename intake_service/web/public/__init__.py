"""The public pages patients use: forms, thank-you pages."""
