"""Thin Celery tasks: each takes ids only and calls one domain function."""
