"""Outreach: sequences planned as rows, the scheduler, delivery, failures and dead letters."""
