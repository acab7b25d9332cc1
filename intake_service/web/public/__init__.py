"""The public pages patients use: forms, thank-you pages, and their embeddable versions."""

# The blueprints whose pages a patient sees: both speak the patient's language.
PUBLIC_BLUEPRINT = "public"
# The forms for a clinic's own website (web/public/embed.py): the only pages others may frame.
EMBED_BLUEPRINT = "embed"
PATIENT_BLUEPRINTS = frozenset({PUBLIC_BLUEPRINT, EMBED_BLUEPRINT})
