"""The worker of tests/integration/test_jobs_worker.py: ``celery -A jobs_worker worker``.

The exchange's own worker app (``workers.worker``, configured from ``EXCHANGE_*``) plus the
test-only tasks of ``jobs_support``, with the broker transport options the test passes in
``JOBS_TEST_TRANSPORT_OPTIONS`` (JSON): a key prefix of its own on the shared Redis server, and a
short visibility timeout so a message whose worker was killed is redelivered in seconds rather
than Redis's default hour.
"""

from __future__ import annotations

import json
import os

import jobs_support  # noqa: F401  (registers the test-only tasks)

from workers.worker import celery, flask_app

celery.conf.broker_transport_options = json.loads(os.environ["JOBS_TEST_TRANSPORT_OPTIONS"])

__all__ = ["celery", "flask_app"]
