"""Security: field encryption at rest; room for passwords and webhook signatures."""
