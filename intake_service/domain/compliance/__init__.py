"""Compliance: the consent ledger and the rules on who may be contacted, how and when."""
