"""Configuration parsed in one place (exchange.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.config import ANALYTICS_QUEUE, load_config


@pytest.mark.parametrize(
    ("broker", "options"),
    [
        ("redis://cache:6379/0", {"visibility_timeout": 7200}),
        ("rediss://cache:6380/0", {"visibility_timeout": 7200}),
        ("amqp://guest@rabbit//", {}),
        ("sqla+sqlite:///broker.db", {}),
    ],
)
def test_config_visibility_timeout_only_for_brokers_that_redeliver_by_timeout(
    tmp_path: Path, broker: str, options: dict[str, int]
) -> None:
    env = {
        "EXCHANGE_INSTANCE_PATH": str(tmp_path),
        "EXCHANGE_BROKER_URL": broker,
        "EXCHANGE_BROKER_VISIBILITY_TIMEOUT": "7200",
    }
    assert load_config(env=env).celery_mapping()["broker_transport_options"] == options


def test_config_routes_the_refresh_job_to_the_analytics_queue(tmp_path: Path) -> None:
    routes = load_config(env={"EXCHANGE_INSTANCE_PATH": str(tmp_path)}).celery_mapping()
    assert routes["task_routes"] == {"exchange.refresh_job": {"queue": ANALYTICS_QUEUE}}


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("1", True)])
def test_config_refresh_after_accept_from_the_environment(
    tmp_path: Path, value: str, expected: bool
) -> None:
    env = {"EXCHANGE_INSTANCE_PATH": str(tmp_path), "EXCHANGE_REFRESH_AFTER_ACCEPT": value}
    assert load_config(env=env).refresh_after_accept is expected
