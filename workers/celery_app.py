"""The Celery application, bound to a Flask app (Flask's examples/celery pattern).

``create_app`` calls :func:`celery_init_app`, so every Flask app carries its Celery app in
``app.extensions["celery"]`` and every task runs inside that Flask app's context. Celery connects
to its broker lazily, on the first message sent or received: importing this module, or creating
the app, connects to nothing. The worker's command line loads ``workers.worker``.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

__all__ = ["celery_init_app"]


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for ``app`` from ``app.config["CELERY"]`` and register it."""

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask, include=["workers.tasks"])
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
