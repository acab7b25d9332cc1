"""The public pages patients use: forms, thank-you pages, and their embeddable versions."""

# The blueprints whose pages a patient sees: both speak the patient's language.
PUBLIC_BLUEPRINT = "public"
# The forms for a clinic's own website (web/public/embed.py): the only pages others may frame.
EMBED_BLUEPRINT = "embed"
# The unsubscribe page every patient email links to (web/public/unsubscribe.py).
UNSUBSCRIBE_BLUEPRINT = "unsubscribe"
PATIENT_BLUEPRINTS = frozenset({PUBLIC_BLUEPRINT, EMBED_BLUEPRINT, UNSUBSCRIBE_BLUEPRINT})
