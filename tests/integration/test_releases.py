"""National releases on the demo data, through the real database, policy and audit gate.

Three North East LAs (Darlington keeps Table 4 private, Middlesbrough shares Table 5 only with
its alliance) and Camden (shares nothing) for one period keep the test quick; the path is the
same for every LA and period (`exchange demo`, then `exchange release build --period P` and
`exchange release export`).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from flask import Flask
from sqlalchemy import func, select

from exchange import audit
from exchange.cli import main
from exchange.extensions import db
from exchange.models import AuditEvent, PrivacyLedgerEntry, Release, ReleaseStatus
from schemas.catalogue import load_catalogue

pytestmark = pytest.mark.integration

LAS = "840,841,806,202"
PERIOD = "2024"
COUNTS = ["numerator", "denominator", "respondents", "n"]


def invoke(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(main, list(args))


@pytest.fixture
def demo(db_app: Flask) -> Flask:
    result = invoke(db_app, "demo", "--periods", PERIOD, "--las", LAS)
    assert result.exit_code == 0, result.output
    # One process: the parallel path is exercised by test_release_build_and_export_on_demo_data.
    db_app.config["EXCHANGE"] = replace(db_app.config["EXCHANGE"], release_workers=1)
    return db_app


def export(app: Flask, release_id: int, out: Path) -> pd.DataFrame:
    result = invoke(app, "release", "export", str(release_id), "--out", str(out))
    assert result.exit_code == 0, result.output
    (data,) = out.glob("*_release_*[0-9].csv")
    return pd.read_csv(data, dtype=str, keep_default_na=False)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def numbers(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column, errors="coerce")


def test_release_build_and_export_on_demo_data(demo: Flask, tmp_path: Path) -> None:
    demo.config["EXCHANGE"] = replace(demo.config["EXCHANGE"], release_workers=2)
    result = invoke(demo, "release", "build", "--period", PERIOD)
    assert result.exit_code == 0, result.output
    assert "built release 1: national 2024 release 1 (dfe)" in result.output
    with demo.app_context():
        release = db.session.scalars(select(Release)).one()
        assert release.status is ReleaseStatus.CURRENT
        assert release.summary["las"] == 3  # Camden shares nothing
        assert release.summary["audit_cells_narrowed"] == 0
        assert release.summary["audit_intervals_checked"] > 0
        assert release.footnotes[0].startswith("Release policy:")
        release_id = release.id

    table = export(demo, release_id, tmp_path / "a")
    assert (tmp_path / "a" / "cscx_national_2024_release_1.meta.csv").exists()
    assert set(table["geographic_level"]) == {"National", "Regional", "Local authority"}
    las = table[table["geographic_level"] == "Local authority"]
    assert "202" not in set(las["old_la_code"])
    # Sharing: Darlington keeps Table 4 private; Middlesbrough shares Table 5 with its alliance.
    catalogue = load_catalogue()
    table4 = {i.id for i in catalogue.indicators.values() if i.table == 4}
    table5 = {i.id for i in catalogue.indicators.values() if i.table == 5}
    assert not las[(las["old_la_code"] == "841") & las["indicator"].isin(table4)].shape[0]
    assert not las[(las["old_la_code"] == "806") & las["indicator"].isin(table5)].shape[0]
    assert las[(las["old_la_code"] == "840") & las["indicator"].isin(table5)].shape[0]
    # Primary suppression: no LA count from 1 to 5 is published; some are suppressed.
    for column in COUNTS:
        shown = numbers(las[column])
        assert not shown.between(1, 5).any(), column
    assert (las[COUNTS] == "c").to_numpy().sum() > 0
    # National and regional counts are rounded to the nearest 10.
    aggregates = table[table["geographic_level"] != "Local authority"]
    for column in COUNTS:
        shown = numbers(aggregates[column]).dropna()
        assert (shown % 10 == 0).all(), column

    # Exporting again gives the same bytes: the release is stored, not rebuilt.
    export(demo, release_id, tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    with demo.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action)))
        assert actions.count("release_built") == 1
        assert actions.count("release_exported") == 2
        assert audit.verify(db.session)[1] is None


def test_release_rebuild_supersedes_and_numbers(demo: Flask) -> None:
    for _ in range(2):
        result = invoke(demo, "release", "build", "--period", PERIOD, "--policy", "opensafely")
        assert result.exit_code == 0, result.output
    with demo.app_context():
        rows = db.session.execute(
            select(Release.number, Release.status, Release.policy).order_by(Release.number)
        ).all()
        assert [tuple(r) for r in rows] == [
            (1, ReleaseStatus.SUPERSEDED, "opensafely"),
            (2, ReleaseStatus.CURRENT, "opensafely"),
        ]


def test_release_refused_when_nothing_is_shared(db_app: Flask) -> None:
    result = invoke(db_app, "release", "build", "--period", PERIOD)
    assert result.exit_code == 1
    assert "no LA shares any indicator nationally" in result.output
    with db_app.app_context():
        assert db.session.scalar(select(func.count(Release.id))) == 0
        refused = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "release_refused")
        ).one()
        assert refused.outcome == "refused"


def test_release_refused_when_audit_fails_stores_nothing(
    demo: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A suppression pattern with no complementary cells is attackable: the gate refuses it."""
    import privacy.suppression

    real = privacy.suppression.protect
    had_secondary: list[bool] = []  # protect runs once per indicator

    def primary_only(*args, **kwargs):  # type: ignore[no-untyped-def]
        protected = real(*args, **kwargs)
        secondary = protected["status"] == "secondary"
        had_secondary.append(bool(secondary.any()))
        protected.loc[secondary, "published"] = protected.loc[secondary, "count"]
        protected.loc[secondary, "symbol"] = ""
        protected.loc[secondary, "status"] = "exact"
        protected.loc[secondary, "known_lower"] = protected.loc[secondary, "count"]
        protected.loc[secondary, "known_upper"] = protected.loc[secondary, "count"]
        return protected

    monkeypatch.setattr(privacy.suppression, "protect", primary_only)  # one process: see demo
    result = invoke(demo, "release", "build", "--period", PERIOD)
    assert any(had_secondary)  # the demo data needs complementary suppression
    assert result.exit_code == 1
    assert "release refused" in result.output
    with demo.app_context():
        assert db.session.scalar(select(func.count(Release.id))) == 0
        assert (
            db.session.scalar(
                select(func.count(AuditEvent.id)).where(AuditEvent.action == "release_refused")
            )
            == 1
        )


def test_dp_release_charges_the_ledger_and_refuses_over_budget(demo: Flask, tmp_path: Path) -> None:
    assert (
        invoke(demo, "release", "budget", "--authority", "840", "--epsilon", "1.5").exit_code == 0
    )
    result = invoke(demo, "release", "build", "--period", PERIOD, "--policy", "dp")
    assert result.exit_code == 0, result.output
    with demo.app_context():
        release = db.session.scalars(select(Release)).one()
        entries = db.session.scalars(
            select(PrivacyLedgerEntry).where(PrivacyLedgerEntry.release_id == release.id)
        ).all()
        assert entries
        assert {e.time_period for e in entries} == {PERIOD}
        release_id = release.id
    first = export(demo, release_id, tmp_path / "a")
    second = export(demo, release_id, tmp_path / "b")
    pd.testing.assert_frame_equal(first, second)  # noise drawn once, stored
    las = first[first["geographic_level"] == "Local authority"]
    assert (numbers(las["numerator"]).dropna() >= 0).all()

    # Durham's budget (1.5) cannot pay for a second release at the default epsilon.
    result = invoke(demo, "release", "build", "--period", PERIOD, "--policy", "dp")
    assert result.exit_code == 1
    assert "County Durham" in result.output or "E06000047" in result.output
    with demo.app_context():
        assert db.session.scalar(select(func.count(Release.id))) == 1
