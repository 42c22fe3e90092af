"""The worker's entry point: ``celery -A workers.worker worker``.

Importing this module builds the Flask app from the environment (``EXCHANGE_*`` variables, see
``exchange.config``) and exposes its Celery app; only the worker command line imports it.
"""

from __future__ import annotations

from exchange.app import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
