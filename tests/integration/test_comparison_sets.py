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
from sqlalchemy.exc import IntegrityError

from exchange.actions.comparisons import alliance_comparisons_for, comparisons_for, current_set
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
    # The demo computed set 1 before any release; the releases change both years for everyone.
    result = invoke(db_app, "comparisons", "recompute")
    assert result.exit_code == 0, result.output
    assert "comparison set 2 (incremental): 6 LAs, 6 recomputed" in result.output
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
        files = db.session.scalars(
            select(ComparisonFile).where(ComparisonFile.set_id == chosen.id)
        ).all()
        owners = [db.session.get(Organisation, file.organisation_id) for file in files]
        # One file per LA, and one for the North East alliance (every LA here is a member).
        assert sorted(o.kind.name for o in owners) == ["ALLIANCE"] + ["LOCAL_AUTHORITY"] * 6
        for organisation in owners:
            if organisation.kind is OrganisationKind.ALLIANCE:
                continue
            view = comparisons_for(db.session, staff(organisation), organisation.id)
            assert view is not None
            assert set(view.per_la["period"]) == {"2024", "2025"}
            # Every table of the file is about this LA only (similar sets name their members
            # by code, with public context figures only).
            for name, table in view.tables.items():
                if "la_code" in table.columns and not name.startswith("similar_"):
                    assert set(table["la_code"]) <= {organisation.new_la_code}, name
            assert set(view.table("trends")["la_code"]) == {organisation.new_la_code}


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


def test_alliance_file_holds_its_members_published_values_only(compared: Flask) -> None:
    with compared.app_context():
        alliance = db.session.scalars(
            select(Organisation).where(Organisation.code == "alliance-north-east")
        ).one()
        viewer = Principal(
            label="test:alliance",
            role=Role.ALLIANCE_VIEWER,
            organisation_id=alliance.id,
            organisation_kind=OrganisationKind.ALLIANCE,
            alliance_ids=frozenset({alliance.id}),
        )
        view = alliance_comparisons_for(db.session, viewer, alliance.id)
        assert view is not None
        members = db.session.scalars(
            select(Organisation.new_la_code).where(Organisation.code.in_(LAS.split(",")))
        ).all()
        assert set(view.per_la["la_code"]) == set(members)
        release = db.session.scalars(
            select(Release).where(Release.id == current_set(db.session).releases["2025"])  # type: ignore[union-attr]
        ).one()
        table = release_frame(db.session, release)
        table = table.loc[table["geographic_level"] == "Local authority"]
        values = table[["percent", "rate_per_10000", "mean", "yes_no"]]
        published = pd.Series(
            values.apply(pd.to_numeric, errors="coerce").max(axis=1).to_numpy(),
            index=pd.MultiIndex.from_frame(
                table[["new_la_code", "indicator", "breakdown_topic", "breakdown"]]
            ),
        ).dropna()
        shown = view.per_la.loc[view.per_la["period"] == "2025"].dropna(subset=["value"])
        shown = shown.set_index(["la_code", "indicator_id", "breakdown_topic", "breakdown"])
        assert len(shown) > 100
        np.testing.assert_allclose(
            shown["value"].to_numpy(float), published.reindex(shown.index).to_numpy(float)
        )
        # Only the alliance's own viewers: not its members' staff, nor the system.
        durham = db.session.scalars(select(Organisation).where(Organisation.code == "840")).one()
        for refused in (staff(durham), system_principal("test")):
            with pytest.raises(PermissionError):
                alliance_comparisons_for(db.session, refused, alliance.id)
        # Nor is it another door to an LA's own file (its raw values) for the LA's staff.
        with pytest.raises(PermissionError):
            alliance_comparisons_for(db.session, staff(durham), durham.id)


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


def test_comparisons_recompute_with_nothing_changed_keeps_the_current_set(
    compared: Flask,
) -> None:
    result = invoke(compared, "comparisons", "recompute")
    assert result.exit_code == 0, result.output
    assert "comparison set 2 is up to date" in result.output
    with compared.app_context():
        assert len(db.session.scalars(select(ComparisonSet)).all()) == 2


def test_comparisons_full_recompute_supersedes_atomically(compared: Flask) -> None:
    result = invoke(compared, "comparisons", "recompute", "--full")
    assert result.exit_code == 0, result.output
    with compared.app_context():
        sets = db.session.scalars(select(ComparisonSet).order_by(ComparisonSet.id)).all()
        assert [s.status for s in sets] == [
            ComparisonStatus.SUPERSEDED,
            ComparisonStatus.SUPERSEDED,
            ComparisonStatus.CURRENT,
        ]
        assert current_set(db.session).id == sets[2].id  # type: ignore[union-attr]
        assert sets[2].summary["mode"] == "full"


def test_comparisons_allow_one_current_set_only(compared: Flask) -> None:
    with compared.app_context():
        db.session.add(ComparisonSet(status=ComparisonStatus.CURRENT, summary={}))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def _tables(app: Flask) -> dict[str, dict[str, pd.DataFrame]]:
    """Every LA's stored tables of the current set, rows in a canonical order."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    with app.app_context():
        for organisation in db.session.scalars(
            select(Organisation).where(Organisation.code.in_(LAS.split(",")))
        ):
            view = comparisons_for(db.session, staff(organisation), organisation.id)
            assert view is not None
            out[organisation.code] = {
                name: frame.astype({c: str for c in frame.columns if frame[c].dtype == object})
                .sort_values([c for c in frame.columns if frame[c].dtype != "float64"][:8])
                .reset_index(drop=True)
                for name, frame in view.tables.items()
                if name in ("per_la", "per_group", "outcomes", "trends")
            }
    return out


def test_comparisons_incremental_after_an_upload_equals_a_full_recompute(
    compared: Flask,
) -> None:
    # 840 sends a corrected 2024 return: only 840's own figures change (the others see 840
    # through the release, which is not rebuilt here), for 2024 and 2025 (the change from 2024).
    from exchange.actions.demo import demo_actor
    from exchange.actions.submissions import accept_upload, check_upload
    from exchange.db import one_transaction
    from schemas.synth import generate
    from schemas.synth.files import file_name, frame_to_csv, split_by_upload

    with compared.app_context():
        actor = demo_actor()
        mine = db.session.scalars(select(Organisation).where(Organisation.code == "840")).one()
        for period, code, name, part in split_by_upload(generate([2024], 99, las=["840"])):
            with one_transaction(db.session):
                _, pending = check_upload(
                    db.session, frame_to_csv(part), file_name(code, name, period), mine, actor
                )
                assert pending is not None
                accept_upload(db.session, pending.id, actor)
        before = current_set(db.session)
        before_files = dict(
            db.session.execute(
                select(ComparisonFile.organisation_id, ComparisonFile.file_id).where(
                    ComparisonFile.set_id == before.id  # type: ignore[union-attr]
                )
            ).all()
        )
    result = invoke(compared, "comparisons", "recompute")
    assert "(incremental): 6 LAs, 1 recomputed" in result.output, result.output
    with compared.app_context():
        after = current_set(db.session)
        after_files = dict(
            db.session.execute(
                select(ComparisonFile.organisation_id, ComparisonFile.file_id).where(
                    ComparisonFile.set_id == after.id  # type: ignore[union-attr]
                )
            ).all()
        )
        changed = {o for o in after_files if after_files[o] != before_files[o]}
        assert changed == {mine.id}
    incremental = _tables(compared)
    result = invoke(compared, "comparisons", "recompute", "--full")
    assert result.exit_code == 0, result.output
    full = _tables(compared)
    for code, tables in full.items():
        for name, frame in tables.items():
            pd.testing.assert_frame_equal(
                incremental[code][name], frame, check_dtype=False, obj=f"{code} {name}"
            )


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


def test_shared_journeys_come_from_protected_values_only(compared: Flask) -> None:
    # Durham starts a journey: its own stage is read from its raw figures, but what every LA
    # sees of Durham's trajectory holds exactly the values the releases publish (DP-noised
    # here), never its raw ones.
    from datetime import date

    from exchange.actions.comparisons import shared_progress_for
    from exchange.actions.journeys import record_journey

    with compared.app_context():
        durham = db.session.scalars(select(Organisation).where(Organisation.code == "840")).one()
        record_journey(
            db.session,
            system_principal("system:test"),
            durham.id,
            start_date=date(2023, 10, 1),
            trigger="Ofsted inadequate",
            focus_areas="Practice model",
        )
    result = invoke(compared, "comparisons", "recompute")
    assert "(full)" in result.output, result.output  # a journey changes the basis
    with compared.app_context():
        other = db.session.scalars(select(Organisation).where(Organisation.code == "841")).one()
        shared = shared_progress_for(db.session, staff(other))
        assert shared is not None
        assert shared.stages["la_code"].tolist() == [durham.new_la_code]
        aligned = shared.aligned.loc[shared.aligned["la_code"] == durham.new_la_code]
        assert not aligned.empty
        published = []
        for release in db.session.scalars(select(Release)):
            table = release_frame(db.session, release)
            table = table.loc[
                (table["new_la_code"] == durham.new_la_code) & (table["breakdown_topic"] == "Total")
            ]
            values = table[["percent", "rate_per_10000", "mean", "yes_no"]].apply(
                pd.to_numeric, errors="coerce"
            )
            published.append(
                pd.DataFrame(
                    {
                        "indicator_id": table["indicator"],
                        "period": release.time_period,
                        "published": values.max(axis=1),
                    }
                )
            )
        merged = aligned.merge(pd.concat(published), on=["indicator_id", "period"])
        assert len(merged) == len(aligned)
        assert np.allclose(merged["value"], merged["published"])
        own = comparisons_for(db.session, staff(durham), durham.id)
        assert own is not None
        assert own.table("stage")["la_code"].tolist() == [durham.new_la_code]
        with pytest.raises(PermissionError):
            shared_progress_for(db.session, system_principal("system:test"))
