"""The exchange: a Flask application where English local authorities share and benchmark
aggregated children's social care indicators."""

from .app import create_app

__all__ = ["create_app"]
