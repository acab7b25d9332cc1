"""Leads as staff work them: status changes and what they stop; room for routing and claims."""
