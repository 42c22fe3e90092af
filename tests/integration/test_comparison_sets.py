"""Comparisons on the demo data, through the real database, release and stored files.

Six North East LAs for two periods, a DP release per period (fast; the path is the same for
any policy), then ``exchange comparisons recompute``: every LA gets its own encrypted file,
which holds its own raw values and statistics computed from the releases' protected values.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from flask import Flask
from sqlalchemy import select

from exchange.actions.comparisons import comparisons_for, current_set
from exchange.actions.releases import release_frame
from exchange.cli import main
from exchange.extensions import db
from exchange.models import (
    ComparisonFile,
    ComparisonSet,
    ComparisonStatus,
    Organisation,
    OrganisationKind,
    Release,
    Role,
)
from exchange.security.policy import Principal
from exchange.security.principals import system_principal

pytestmark = pytest.mark.integration

LAS = "840,841,806,805,807,808"
PERIODS = "2024,2025"


def invoke(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(main, list(args))


@pytest.fixture
def compared(db_app: Flask) -> Flask:
    result = invoke(db_app, "demo", "--periods", PERIODS, "--las", LAS)
    assert result.exit_code == 0, result.output
    db_app.config["EXCHANGE"] = replace(db_app.config["EXCHANGE"], release_workers=1)
    for period in PERIODS.split(","):
        result = invoke(db_app, "release", "build", "--period", period, "--policy", "dp")
        assert result.exit_code == 0, result.output
    result = invoke(db_app, "comparisons", "recompute")
    assert result.exit_code == 0, result.output
    assert "comparison set 1: 6 LAs" in result.output
    return db_app


def staff(organisation: Organisation) -> Principal:
    return Principal(
        label=f"test:{organisation.code}",
        role=Role.LA_VIEWER,
        organisation_id=organisation.id,
        organisation_kind=OrganisationKind.LOCAL_AUTHORITY,
    )


def test_comparisons_one_file_per_la_with_its_own_rows_only(compared: Flask) -> None:
    with compared.app_context():
        chosen = current_set(db.session)
        assert chosen is not None
        assert set(chosen.releases) == {"2024", "2025"}
        files = db.session.scalars(select(ComparisonFile)).all()
        assert len(files) == 6
        for file in files:
            organisation = db.session.get(Organisation, file.organisation_id)
            view = comparisons_for(db.session, staff(organisation), organisation.id)
            assert view is not None
            assert set(view.per_la["la_code"]) == {organisation.new_la_code}
            assert set(view.per_group["la_code"]) == {organisation.new_la_code}
            assert set(view.per_la["period"]) == {"2024", "2025"}


def test_comparisons_group_statistics_come_from_the_release(compared: Flask) -> None:
    with compared.app_context():
        releases = {r.time_period: r for r in db.session.scalars(select(Release))}
        organisation = db.session.scalars(
            select(Organisation).where(Organisation.code == "840")
        ).one()
        view = comparisons_for(db.session, staff(organisation), organisation.id)
        assert view is not None
        england = view.per_group[
            (view.per_group["group_type"] == "england") & view.per_group["allowed"]
        ].iloc[0]
        table = release_frame(db.session, releases[england["period"]])
        cell = (
            (table["geographic_level"] == "Local authority")
            & (table["indicator"] == england["indicator_id"])
            & (table["breakdown_topic"] == england["breakdown_topic"])
            & (table["breakdown"] == england["breakdown"])
        )
        # The EES table holds the value in the column of its kind ("z" in the others).
        values = table.loc[cell, ["percent", "rate_per_10000", "mean", "yes_no"]]
        published = values.apply(pd.to_numeric, errors="coerce").max(axis=1).dropna()
        assert england["n"] == len(published)
        assert england["mean"] == pytest.approx(published.mean())


def test_comparisons_are_refused_to_other_las_and_the_system(compared: Flask) -> None:
    with compared.app_context():
        mine, other = db.session.scalars(
            select(Organisation)
            .where(Organisation.code.in_(["840", "841"]))
            .order_by(Organisation.code)
        ).all()
        with pytest.raises(PermissionError):
            comparisons_for(db.session, staff(mine), other.id)
        with pytest.raises(PermissionError):
            comparisons_for(db.session, system_principal("test"), mine.id)


def test_comparisons_recompute_supersedes_atomically(compared: Flask) -> None:
    result = invoke(compared, "comparisons", "recompute")
    assert result.exit_code == 0, result.output
    with compared.app_context():
        sets = db.session.scalars(select(ComparisonSet).order_by(ComparisonSet.id)).all()
        assert [s.status for s in sets] == [ComparisonStatus.SUPERSEDED, ComparisonStatus.CURRENT]
        assert current_set(db.session).id == sets[1].id  # type: ignore[union-attr]
        raw_rows = np.array([s.summary["rows"] for s in sets])
        assert (raw_rows == raw_rows[0]).all()


def test_refresh_job_rebuilds_the_release_then_the_comparisons(db_app: Flask) -> None:
    # The job an accepted upload queues (run eagerly here; tests/integration/test_jobs_worker.py
    # runs jobs on a real worker): a new national release of the period, then a new current
    # comparison set resting on it, and the job done with ids and counts only.
    from exchange.actions.refresh import request_refresh
    from exchange.models import Job

    result = invoke(db_app, "demo", "--periods", "2025", "--las", "840,841,806")
    assert result.exit_code == 0, result.output
    db_app.config["EXCHANGE"] = replace(
        db_app.config["EXCHANGE"], release_workers=1, refresh_after_accept=True
    )
    with db_app.app_context():
        job = request_refresh(db.session, "2025")
        assert job is not None
        db.session.expire_all()
        done = db.session.get(Job, job.id)
        assert done.status.value == "done", done.reason
        release = db.session.scalars(select(Release)).one()
        assert done.result == {
            "time_period": "2025",
            "release": release.id,
            "comparison_set": current_set(db.session).id,  # type: ignore[union-attr]
        }
        assert current_set(db.session).releases == {"2025": release.id}  # type: ignore[union-attr]
