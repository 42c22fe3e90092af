"""Background jobs on a real broker: Redis, and real Celery worker processes (no eager mode).

* a ping job queued by the portal's action is run by a worker and is done, with its result;
* a worker killed (SIGKILL) in the middle of a job: the task is redelivered to a new worker and
  the job completes once (one result, attempt 2), with no partial result visible meanwhile;
* the same dedupe key queued twice while the first is still queued gives one job and one message.

Needs a Redis server (``EXCHANGE_TEST_REDIS_URL``) and uses the suite's database (PostgreSQL when
``EXCHANGE_TEST_DATABASE_URL`` is set, else SQLite shared with the worker); ``eval "$(bash
scripts/services)"`` starts both. Skipped where no Redis is named, except in CI (``CI`` set),
where that is an error: CI runs them. Each test has a key prefix of its own on the Redis server
(``global_keyprefix``), removed afterwards, and a visibility timeout of a few seconds so an
unacknowledged message comes back quickly (Redis's default is an hour).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jobs_support  # noqa: F401  (registers the test-only task on this side too)
import pytest
import redis
from flask import Flask
from sqlalchemy import func, select

from exchange.actions import jobs
from exchange.cli.serve import worker_command
from exchange.extensions import db
from exchange.models import Base, Job, JobStatus, Organisation, OrganisationKind

pytestmark = pytest.mark.integration

TIMEOUT = 30.0
VISIBILITY_TIMEOUT = 3  # seconds before a delivered, unacknowledged message is redelivered
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Broker:
    url: str
    prefix: str
    options: dict[str, Any]
    client: redis.Redis

    @property
    def queued_messages(self) -> int:
        return int(self.client.llen(f"{self.prefix}celery"))

    @property
    def unacked_messages(self) -> int:
        return int(self.client.hlen(f"{self.prefix}unacked"))


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("EXCHANGE_TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("EXCHANGE_TEST_REDIS_URL is not set: in CI, scripts/test starts Redis")
        pytest.skip('needs Redis: eval "$(bash scripts/services)" sets EXCHANGE_TEST_REDIS_URL')
    return url


@pytest.fixture
def broker(redis_url: str) -> Iterator[Broker]:
    prefix = f"exchange-test-{uuid.uuid4().hex[:12]}:"
    options = {
        "global_keyprefix": prefix,
        "visibility_timeout": VISIBILITY_TIMEOUT,
        # Look for messages past their visibility timeout every second (default: 100 s).
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
    client = redis.Redis.from_url(redis_url)
    client.ping()
    try:
        yield Broker(redis_url, prefix, options, client)
    finally:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def env(tmp_path: Path, database_url: str, broker: Broker) -> dict[str, str]:
    """The settings the portal (this process) and the workers share."""
    return {
        "EXCHANGE_INSTANCE_PATH": str(tmp_path / "instance"),
        "EXCHANGE_DATABASE_URL": database_url,
        "EXCHANGE_BROKER_URL": broker.url,
        "JOBS_TEST_TRANSPORT_OPTIONS": json.dumps(broker.options),
    }


@pytest.fixture
def portal(env: dict[str, str], broker: Broker) -> Iterator[Flask]:
    """The app on the Redis broker (not eager), its tables created, with two organisations."""
    from exchange.app import create_app
    from exchange.config import load_config

    app = create_app(load_config(env=env, testing=True))
    celery = app.extensions["celery"]
    celery.conf.broker_transport_options = broker.options
    with app.app_context():
        Base.metadata.create_all(db.engine)
        db.session.add_all(
            [
                Organisation(kind=OrganisationKind.LOCAL_AUTHORITY, code="840", name="Durham"),
                Organisation(kind=OrganisationKind.PLATFORM, code="platform", name="Platform"),
            ]
        )
        db.session.commit()
    yield app
    celery.close()  # the broker connections of this process
    with app.app_context():
        db.engine.dispose()


@contextmanager
def worker(
    env: dict[str, str], log: Path, queue: str = "celery"
) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker process of ``queue`` (the command ``exchange serve`` runs, on the test's
    worker app), ready to take tasks; stopped (warm) afterwards unless the test killed it."""
    command = [
        ("jobs_worker" if part == "workers.worker" else part) for part in worker_command(queue)
    ]
    assert "jobs_worker" in command
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")} | env
    child_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(HERE), os.environ.get("PYTHONPATH")])
    )
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
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def stored(app: Flask, job_id: str) -> Job:
    """The job as the database has it now (a fresh session each time)."""
    with app.app_context():
        found = db.session.get(Job, job_id)
        assert found is not None
        db.session.expunge(found)
        return found


def wait_for(what: str, check: Callable[[], bool], logs: list[Path]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            shown = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in logs)
            pytest.fail(f"{what}: not after {TIMEOUT} s\n{shown}")
        time.sleep(0.1)


def test_jobs_worker_runs_a_ping_job_on_redis(
    portal: Flask, env: dict[str, str], broker: Broker, tmp_path: Path
) -> None:
    with portal.app_context():
        durham = db.session.scalar(select(Organisation.id).where(Organisation.code == "840"))
        job = jobs.enqueue(db.session, "ping", {}, organisation_id=durham)
    assert stored(portal, job.id).status is JobStatus.QUEUED
    assert broker.queued_messages == 1
    log = tmp_path / "worker.log"
    with worker(env, log):
        wait_for("ping job done", lambda: stored(portal, job.id).finished, [log])
    done = stored(portal, job.id)
    assert done.status is JobStatus.DONE, done.reason
    assert done.result == {"organisations": 2}
    assert done.attempts == 1
    assert done.started_at is not None
    assert done.finished_at is not None
    assert (broker.queued_messages, broker.unacked_messages) == (0, 0)
    assert job.id in log.read_text()  # the task id is the job id


def test_jobs_worker_killed_mid_job_redelivers_and_completes_once(
    portal: Flask, env: dict[str, str], broker: Broker, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    with portal.app_context():
        job = jobs.enqueue(db.session, "test_sleep", {"markers": str(markers)})
    first_log, second_log = tmp_path / "worker-1.log", tmp_path / "worker-2.log"

    with worker(env, first_log) as first:
        wait_for("attempt 1 started", (markers / "started-1").exists, [first_log])
        running = stored(portal, job.id)
        assert (running.status, running.attempts, running.result) == (JobStatus.RUNNING, 1, None)
        os.killpg(first.pid, signal.SIGKILL)  # the worker dies mid-job, as in a crash
        first.wait(timeout=10)
    # The broker still holds the message, unacknowledged; nothing partial is visible.
    assert broker.unacked_messages == 1
    orphan = stored(portal, job.id)
    assert (orphan.status, orphan.result, orphan.finished_at) == (JobStatus.RUNNING, None, None)

    with worker(env, second_log):
        wait_for("job done after redelivery", lambda: stored(portal, job.id).finished,
                 [first_log, second_log])  # fmt: skip
    done = stored(portal, job.id)
    assert done.status is JobStatus.DONE, done.reason
    assert done.attempts == 2
    assert done.result == {"attempt": 2}
    assert sorted(p.name for p in markers.iterdir()) == ["returned-2", "started-1", "started-2"]
    assert (broker.queued_messages, broker.unacked_messages) == (0, 0)
    with portal.app_context():
        assert db.session.scalar(select(func.count(Job.id))) == 1


def test_jobs_worker_same_dedupe_key_while_queued_gives_one_job_and_one_message(
    portal: Flask, broker: Broker
) -> None:
    with portal.app_context():
        first = jobs.enqueue(db.session, "ping", {"period": "2025"}, dedupe_key="ping:2025")
        second = jobs.enqueue(db.session, "ping", {"period": "2025"}, dedupe_key="ping:2025")
        assert second.id == first.id
        assert db.session.scalar(select(func.count(Job.id))) == 1
    assert broker.queued_messages == 1
