"""Celery application, thin tasks and the pure analytics they call."""
