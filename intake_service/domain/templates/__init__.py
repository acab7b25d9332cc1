"""Message templates: stored versions, the plain dicts they see, and the sandboxed renderer."""
