"""HSTS only behind TLS: EXCHANGE_SECURE_COOKIES turns it (and Secure cookies) on."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.app import create_app
from exchange.config import load_config


@pytest.mark.parametrize(("secure", "expected"), [("1", True), ("0", False)])
def test_hsts_sent_only_behind_tls(tmp_path: Path, secure: str, expected: bool) -> None:
    env = {"EXCHANGE_INSTANCE_PATH": str(tmp_path), "EXCHANGE_SECURE_COOKIES": secure}
    app = create_app(load_config(env=env, testing=True))
    response = app.test_client().get("/catalogue")
    assert ("Strict-Transport-Security" in response.headers) is expected
    assert app.config["SESSION_COOKIE_SECURE"] is expected
    assert response.headers["X-Frame-Options"] == "DENY"
