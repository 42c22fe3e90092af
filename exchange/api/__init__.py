"""The JSON API (``/api/v1``): one blueprint module per area.

The API is for machines: it is not cookie-authenticated, so it is exempt from CSRF protection,
and its errors are JSON.
"""

from __future__ import annotations

from flask import Flask


def register_api(app: Flask) -> None:
    from exchange.extensions import csrf

    from . import validate

    csrf.exempt(validate.bp)
    app.register_blueprint(validate.bp)
