"""An accepted upload reaches the comparisons by itself, through real workers on Redis.

Six North East LAs, two years, loaded by ``exchange demo`` (which queues the national releases
of both years); a worker per queue (the default queue for quick jobs, the analytics queue for
release builds), as ``exchange serve`` runs them. Then Durham (840) sends a new 2025 return and
it is accepted, as the portal does (``accept_upload`` then ``request_refresh``):

1. the quick ``comparisons`` job puts Durham's new figures in its own comparisons (a new
   current set resting on the new submission version), touching no other LA's file;
2. the ``refresh`` job rebuilds the 2025 national release and recomputes every LA's 2025
   comparisons on it.

The national channel uses the ``dp`` policy here, only because it builds in seconds; the path
is the same for every policy. Needs Redis (``EXCHANGE_TEST_REDIS_URL``), like
tests/integration/test_jobs_worker.py, whose broker and worker fixtures this reuses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from flask import Flask
from sqlalchemy import select
from test_jobs_worker import Broker, broker, env, redis_url, worker  # noqa: F401  (fixtures)

from exchange.actions.comparisons import comparisons_for, current_set
from exchange.actions.demo import demo_actor
from exchange.actions.refresh import request_refresh
from exchange.actions.submissions import accept_upload, check_upload
from exchange.cli import main
from exchange.db import one_transaction
from exchange.extensions import db
from exchange.models import (
    ComparisonFile,
    Job,
    JobStatus,
    Organisation,
    OrganisationKind,
    Release,
    ReleaseStatus,
    Role,
)
from exchange.security.policy import Principal
from schemas.synth import generate
from schemas.synth.files import file_name, frame_to_csv, split_by_upload

pytestmark = pytest.mark.integration

LAS = "840,841,806,805,807,808"
TIMEOUT = 180.0  # release builds of two years, on a shared CI machine


@pytest.fixture
def portal(env: dict[str, str], broker: Broker) -> Iterator[Flask]:  # noqa: F811
    """The app on the Redis broker (not eager) with the demo data of six LAs and two years;
    the demo has queued each year's release and the comparisons."""
    from exchange.app import create_app
    from exchange.config import load_config

    app = create_app(load_config(env=env, testing=True))
    celery = app.extensions["celery"]
    celery.conf.broker_transport_options = broker.options
    set_up = app.test_cli_runner().invoke(main, ["init"])
    assert set_up.exit_code == 0, set_up.output
    demo = ["demo", "--periods", "2024,2025", "--las", LAS, "--release-policy", "dp"]
    result = app.test_cli_runner().invoke(main, demo)
    assert result.exit_code == 0, result.output
    assert "national release policy: dp" in result.output
    assert "national releases of 2024, 2025 queued" in result.output
    yield app
    celery.close()
    with app.app_context():
        db.engine.dispose()


def settled(app: Flask) -> bool:
    """No job queued or running."""
    with app.app_context():
        busy = db.session.scalars(
            select(Job.id).where(Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        ).first()
        db.session.rollback()
        return busy is None


def wait_for(what: str, check: Callable[[], bool], logs: list[Path]) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > TIMEOUT:
            tails = (f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in logs)
            shown = "\n".join(tails)
            pytest.fail(f"{what}: not after {TIMEOUT} s\n{shown}")
        time.sleep(0.1)
    return time.monotonic() - started


def staff(organisation: Organisation) -> Principal:
    return Principal(
        label=f"test:{organisation.code}",
        role=Role.LA_VIEWER,
        organisation_id=organisation.id,
        organisation_kind=OrganisationKind.LOCAL_AUTHORITY,
    )


def files_of(set_id: int) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(ComparisonFile.organisation_id, ComparisonFile.file_id).where(
                ComparisonFile.set_id == set_id
            )
        ).all()
    )


def test_upload_refreshes_comparisons_through_workers_on_redis(
    portal: Flask,
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    logs = [tmp_path / "celery.log", tmp_path / "analytics.log"]
    with worker(env, logs[0]), worker(env, logs[1], queue="analytics"):
        wait_for("the demo's releases and comparisons", lambda: settled(portal), logs)
        with portal.app_context():
            before = current_set(db.session)
            assert before is not None
            assert set(before.releases) == {"2024", "2025"}
            durham = db.session.scalars(
                select(Organisation).where(Organisation.code == "840")
            ).one()
            old_release = db.session.scalars(
                select(Release.id).where(
                    Release.time_period == "2025", Release.status == ReleaseStatus.CURRENT
                )
            ).one()
            before_files = files_of(before.id)
            # A corrected 2025 return: the same LA, other numbers (another seed).
            [(period, code, name, part)] = split_by_upload(generate([2025], 7, las=["840"]))
            with one_transaction(db.session):
                _, pending = check_upload(
                    db.session,
                    frame_to_csv(part),
                    file_name(code, name, period),
                    durham,
                    demo_actor(),
                )
                assert pending is not None
                version = accept_upload(db.session, pending.id, demo_actor())
            refresh = request_refresh(db.session, "2025", organisation_id=durham.id)
            assert refresh is not None
            version_id, refresh_id = version.id, refresh.id

        def durham_sees_the_upload() -> bool:
            with portal.app_context():
                chosen = current_set(db.session)
                db.session.rollback()
                return version_id in (chosen.sources or {}).get("840", [])  # type: ignore[union-attr]

        seconds = wait_for("Durham's new figures in its comparisons", durham_sees_the_upload, logs)
        with portal.app_context():
            quick = current_set(db.session)
            assert quick is not None
            assert quick.summary["mode"] == "incremental"
            # Only Durham's own file changed: the others see Durham through the release.
            changed = {o for o, f in files_of(quick.id).items() if before_files.get(o) != f}
            assert changed <= {durham.id}
            view = comparisons_for(db.session, staff(durham), durham.id)
            assert view is not None
            uploaded = part.assign(value=pd.to_numeric(part["value"], errors="coerce"))
            totals = uploaded.loc[(uploaded["breakdown_topic"] == "Total")].dropna(subset=["value"])
            shown = view.per_la.loc[
                (view.per_la["period"] == "2025") & (view.per_la["breakdown_topic"] == "Total")
            ].set_index("indicator_id")["value"]
            expected = totals.set_index("indicator_id")["value"]
            pd.testing.assert_series_equal(
                shown.reindex(expected.index).astype(float),
                expected.astype(float),
                check_names=False,
            )

        def refreshed() -> bool:
            with portal.app_context():
                job = db.session.get(Job, refresh_id)
                db.session.rollback()
                return job is not None and job.finished

        wait_for("the 2025 release and everyone's comparisons", refreshed, logs)
        with portal.app_context():
            job = db.session.get(Job, refresh_id)
            assert job.status is JobStatus.DONE, job.reason  # type: ignore[union-attr]
            final = current_set(db.session)
            assert final is not None
            assert final.releases["2025"] not in (None, old_release)
            assert final.releases["2025"] == job.result["release"]  # type: ignore[union-attr]
    print(f"upload accepted -> Durham's comparisons updated: {seconds:.1f} s")
