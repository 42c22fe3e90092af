"""A large upload is validated by a real Celery worker process.

The worker is ``celery -A workers.worker worker`` on the embedded broker (kombu's SQLite
transport) in a temporary instance folder; the portal runs in this process with
``inline_validation_bytes`` so small that every file goes to the worker.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from exchange.cli.serve import worker_command
from exchange.jobs import FileJobStore

pytestmark = [
    pytest.mark.integration,
    # kombu's SQLAlchemy transport uses a loader strategy SQLAlchemy 2.1 deprecates.
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
]

TIMEOUT = 60.0
INVALID_ROW = (
    b"2025,Reporting year,Local authority,E06000047,840,County Durham,"
    b"t3_referrals_nfa,Total,Total,150,100,150.0\n"
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The EXCHANGE_* settings the worker and the portal share: everything in a temp folder."""
    root = tmp_path_factory.mktemp("exchange")
    return {
        "EXCHANGE_INSTANCE_PATH": str(root / "instance"),
        "EXCHANGE_BROKER_URL": f"sqla+sqlite:///{root / 'broker.db'}",
        "EXCHANGE_RESULT_BACKEND": f"db+sqlite:///{root / 'results.db'}",
    }


@pytest.fixture(scope="module")
def worker(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real worker process, ready to take tasks; yields its log file. Always torn down."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")} | env
    command = worker_command()  # the very command `exchange serve` runs
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, env=child_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        while "ready." not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                pytest.fail(f"worker exited with {proc.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"worker not ready after {TIMEOUT} s:\n{log.read_text()}")
            time.sleep(0.2)
        yield log
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (SIGTERM) of the worker's process group, then SIGKILL if it hangs."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def portal(env: dict[str, str]) -> Flask:
    from exchange.app import create_app
    from exchange.config import load_config

    return create_app(load_config(env=env, inline_validation_bytes=1))


def _poll(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"job not finished after {TIMEOUT} s")
        time.sleep(0.25)


def test_validation_job_portal_upload_is_checked_by_the_worker(
    worker: Path, portal: Flask, valid_csv: bytes
) -> None:
    client: FlaskClient = portal.test_client()
    form_page = client.get("/validate").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form_page)
    assert token
    response = client.post(
        "/validate",
        data={"csrf_token": token.group(1), "file": (io.BytesIO(valid_csv), "durham.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    page_url = response.headers["Location"]
    job_id = page_url.rsplit("/", 1)[1]

    pages: list[str] = []

    def finished() -> bool:
        pages.append(client.get(page_url).get_data(as_text=True))
        return 'http-equiv="refresh"' not in pages[-1]

    _poll(finished)
    assert "Your file is valid" in pages[-1]
    store = FileJobStore(portal.config["EXCHANGE"].instance_path)
    assert not (store.uploads_dir / job_id).exists()
    assert (store.reports_dir / f"{job_id}.json").exists()
    log = worker.read_text()
    assert job_id in log
    assert "County Durham" not in log
    assert "E06000047" not in log


def test_validation_job_api_upload_reports_problems(
    worker: Path, portal: Flask, valid_csv: bytes
) -> None:
    client = portal.test_client()
    response = client.post(
        "/api/v1/validate",
        data={"file": (io.BytesIO(valid_csv + INVALID_ROW), "durham.csv"), "authority": "840"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202
    location = response.headers["Location"]
    jobs: list[dict[str, object]] = []

    def finished() -> bool:
        jobs.append(client.get(location).get_json())
        return jobs[-1]["status"] in ("done", "failed")

    _poll(finished)
    job = jobs[-1]
    assert job["status"] == "done", job
    summary = job["summary"]
    assert isinstance(summary, dict)
    assert summary["valid"] is False
    assert summary["rows"] == 2
    links = job["links"]
    assert isinstance(links, dict)
    report = client.get(links["report"]).get_json()
    assert {p["row"] for p in report["problems"]} >= {3}
