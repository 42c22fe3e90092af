"""Server-rendered portal: one blueprint module per area."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from . import catalogue, errors, validate

    app.register_blueprint(catalogue.bp)
    app.register_blueprint(validate.bp)
    errors.init_app(app)
