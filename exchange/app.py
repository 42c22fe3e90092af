"""The application factory."""

from __future__ import annotations

from flask import Flask

from .config import Config, load_config
from .extensions import csrf, db


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask app from a parsed :class:`Config` (default: from the environment)."""
    config = config or load_config()
    app = Flask(__name__, instance_path=str(config.instance_path))
    app.config.from_mapping(config.flask_mapping())
    csrf.init_app(app)
    db.init_app(app)

    from workers.celery_app import celery_init_app

    from .security import auth, crypto, headers

    celery_init_app(app)
    headers.init_app(app)
    crypto.init_app(app)  # warns when master keys live beside the data
    auth.init_app(app)  # sessions, sign-in guard, login throttling

    from .api import register_api
    from .web import register_blueprints

    register_blueprints(app)
    register_api(app)
    return app
