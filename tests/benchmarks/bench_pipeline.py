"""The refresh pipeline on the national demo data (issue 5): incremental recompute, and upload
accepted -> comparisons visible through a real worker on Redis.

Set-up (once; kept under ``bench-data/pipeline/`` and reused): ``exchange demo`` for every LA and
the demo's four reporting years, the national release of each year built with the ``dp``
policy (it builds in seconds; which policy made a release does not change the comparison
recompute), and a full comparison recompute.

Figures:

* **incremental recompute after one LA's new upload** (target 2 s): an LA's corrected 2025
  return is accepted, then :func:`exchange.actions.comparisons.recompute_comparisons` is timed
  in this process: it finds that only that LA's figures changed, recomputes its 2025 rows
  (and nothing for anyone else) and makes the new set current. Timed twice: in a fresh
  process (it parses the releases it needs) and again, as in a worker that has run before
  (releases are immutable, so their parsed form is kept);
* **upload accepted -> comparisons visible** (target 15 s): another corrected return is
  accepted and the quick ``comparisons`` job queued, as the portal does after an upload; a real
  Celery worker (the ``exchange serve`` command line) on Redis runs it; timed from the accept's
  commit until the current comparison set rests on the new version;
* the **floor** of both: one pandas group-by mean over the LA's rows of that year.

Needs Redis: ``EXCHANGE_TEST_REDIS_URL`` (``eval "$(bash scripts/services)"`` sets it), else
``bash scripts/services`` is run to start one.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from run import ROOT, Benchmark, Figure  # type: ignore[import-not-found]

INCREMENTAL_TARGET = 2.0
VISIBLE_TARGET = 15.0
PERIODS = "2022-2025"
LA = "840"  # County Durham
TIMEOUT = 300.0


def _redis_url() -> str:
    url = os.environ.get("EXCHANGE_TEST_REDIS_URL")
    if url:
        return url
    exports = subprocess.run(
        ["bash", str(ROOT / "scripts" / "services")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in exports.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        if name == "EXCHANGE_TEST_REDIS_URL":
            return shlex.split(value)[0]
    raise RuntimeError("scripts/services did not name a Redis server")


BENCH_REDIS_DB = 7
"""A Redis database of the benchmark's own (emptied afterwards), shared by the app and the
worker through the broker URL."""


def _app(instance: Path, broker: str):  # type: ignore[no-untyped-def]
    from exchange.app import create_app
    from exchange.config import load_config

    env = {"EXCHANGE_INSTANCE_PATH": str(instance), "EXCHANGE_BROKER_URL": broker}
    app = create_app(load_config(env=env, refresh_after_accept=False))
    return app, env


def _set_up(app) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from exchange.actions.comparisons import current_set
    from exchange.actions.demo import demo_actor
    from exchange.actions.releases import set_channel_policy
    from exchange.cli import main
    from exchange.extensions import db
    from exchange.models import Release

    runner = app.test_cli_runner()
    result = runner.invoke(main, ["init"])  # idempotent: migrates, loads reference data once
    assert result.exit_code == 0, result.output
    with app.app_context():
        if current_set(db.session) is not None:
            return
    result = runner.invoke(main, ["demo", "--periods", PERIODS])
    assert result.exit_code == 0, result.output
    with app.app_context():
        set_channel_policy(db.session, demo_actor(), "dp")
        built = set(db.session.scalars(select(Release.time_period)))
    for period in ("2022", "2023", "2024", "2025"):
        if period not in built:
            result = runner.invoke(main, ["release", "build", "--period", period])
            assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["comparisons", "recompute"])
    assert result.exit_code == 0, result.output


def _upload(app, seed: int) -> int:  # type: ignore[no-untyped-def]
    """Accept a corrected 2025 return of :data:`LA`; returns its version id."""
    from sqlalchemy import select

    from exchange.actions.demo import demo_actor
    from exchange.actions.submissions import accept_upload, check_upload
    from exchange.db import one_transaction
    from exchange.extensions import db
    from exchange.models import Organisation
    from schemas.synth import generate
    from schemas.synth.files import file_name, frame_to_csv, split_by_upload

    [(period, code, name, part)] = split_by_upload(generate([2025], seed, las=[LA]))
    with app.app_context():
        organisation = db.session.scalars(select(Organisation).where(Organisation.code == LA)).one()
        with one_transaction(db.session):
            _, pending = check_upload(
                db.session,
                frame_to_csv(part),
                file_name(code, name, period),
                organisation,
                demo_actor(),
            )
            assert pending is not None
            version = accept_upload(db.session, pending.id, demo_actor())
        return version.id


def _floor(app) -> float:  # type: ignore[no-untyped-def]
    import pandas as pd
    from sqlalchemy import select

    from exchange.extensions import db
    from exchange.models import IndicatorValue, Organisation, Submission, SubmissionVersion

    with app.app_context():
        rows = db.session.execute(
            select(IndicatorValue.indicator_id, IndicatorValue.value)
            .join(SubmissionVersion, IndicatorValue.version_id == SubmissionVersion.id)
            .join(Submission, SubmissionVersion.submission_id == Submission.id)
            .join(Organisation, Submission.organisation_id == Organisation.id)
            .where(Organisation.code == LA, Submission.time_period == "2025")
        ).all()
    frame = pd.DataFrame(rows, columns=["indicator_id", "value"])
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    started = time.perf_counter()
    frame.groupby("indicator_id")["value"].mean()
    return time.perf_counter() - started


def _visible(app, version_id: int) -> bool:  # type: ignore[no-untyped-def]
    from exchange.actions.comparisons import current_set
    from exchange.extensions import db

    with app.app_context():
        chosen = current_set(db.session)
        db.session.rollback()
        return chosen is not None and version_id in (chosen.sources or {}).get(LA, [])


def run(data: Path) -> list[Figure]:
    import redis

    from exchange.actions import jobs
    from exchange.actions.comparisons import recompute_comparisons
    from exchange.actions.demo import demo_actor
    from exchange.cli.serve import worker_command
    from exchange.extensions import db

    broker = urlsplit(_redis_url())._replace(path=f"/{BENCH_REDIS_DB}").geturl()
    instance = data / "pipeline"
    app, env = _app(instance, broker)
    _set_up(app)
    floor = _floor(app)

    timings = []
    for attempt in range(2):  # cold: a fresh process; warm: a worker that has run before
        _upload(app, seed=int(time.time()) % 100_000 + 10 * attempt)
        with app.app_context():
            started = time.perf_counter()
            chosen = recompute_comparisons(db.session, demo_actor())
            timings.append(time.perf_counter() - started)
            assert chosen is not None
            assert chosen.summary["mode"] == "incremental", chosen.summary
            assert chosen.summary["recomputed_las"] == 1, chosen.summary
    cold, warm = timings

    log = instance / "bench-worker.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")} | env
    command = worker_command()
    client = redis.Redis.from_url(broker)
    with log.open("wb") as out:
        worker = subprocess.Popen(
            command, env=child_env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        while "ready." not in log.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text()}")
            time.sleep(0.1)
        version_id = _upload(app, seed=int(time.time()) % 100_000 + 1)
        started = time.perf_counter()
        with app.app_context():
            jobs.enqueue(db.session, "comparisons", {}, dedupe_key="comparisons")
        while not _visible(app, version_id):
            if time.perf_counter() - started > TIMEOUT:
                raise RuntimeError(f"comparisons not updated:\n{log.read_text()}")
            time.sleep(0.05)
        visible = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        client.flushdb()
        client.close()
        app.extensions["celery"].close()
    name = f"pipeline ({LA}'s corrected 2025 return, 153 LAs x 4 years)"
    target = f"target {INCREMENTAL_TARGET:g} s"
    return [
        Figure(
            f"{name}: incremental recompute, fresh process",
            cold,
            "s",
            target,
            INCREMENTAL_TARGET,
            1.0,
        ),
        Figure(
            f"{name}: incremental recompute, running worker",
            warm,
            "s",
            target,
            INCREMENTAL_TARGET,
            1.0,
        ),
        Figure(
            f"{name}: incremental recompute vs floor",
            warm,
            "s",
            "pandas group-by mean",
            floor,
            float("inf"),
        ),
        Figure(
            f"{name}: upload accepted -> comparisons visible (worker on Redis)",
            visible,
            "s",
            f"target {VISIBLE_TARGET:g} s",
            VISIBLE_TARGET,
            1.0,
        ),
    ]


def benchmarks() -> list[Benchmark]:
    return [Benchmark("pipeline upload to comparisons", run)]


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run through tests/benchmarks/run.py (bash scripts/bench pipeline)")
