"""Upload → version → correction → withdrawal on a real database (PostgreSQL in CI).

Driven through ``exchange upload`` and ``exchange submissions`` (the administrators' path, the
same actions as the portal), then checked from fresh app contexts so nothing comes from a
session's cache: every version's raw file decrypts to the exact bytes uploaded, its values are
all there, a rejected file leaves only its audit event, concurrent acceptances make consecutive
versions with exactly one current, and the audit chain verifies.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from exchange import audit
from exchange.actions.files import read_file
from exchange.actions.submissions import accept_upload, check_upload
from exchange.cli import main
from exchange.extensions import db
from exchange.models import (
    AuditEvent,
    Base,
    IndicatorValue,
    Organisation,
    OrganisationKind,
    PendingUpload,
    Submission,
    SubmissionVersion,
    VersionStatus,
)
from exchange.security.principals import system_principal
from schemas.synth import generate

pytestmark = pytest.mark.integration

SYSTEM = system_principal("system:cli")


def synthetic_csv(seed: int, years: tuple[int, ...] = (2024,)) -> bytes:
    return generate(list(years), seed, las=["840"]).to_csv(index=False).encode("utf-8")


def exchange(app: Flask, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))


def table_counts() -> dict[str, int]:
    return {
        t.name: db.session.execute(select(func.count()).select_from(t)).scalar_one()
        for t in Base.metadata.sorted_tables
    }


@pytest.fixture
def app(db_app: Flask) -> Flask:
    with db_app.app_context(), db.transaction() as session:
        session.add(
            Organisation(
                kind=OrganisationKind.LOCAL_AUTHORITY,
                code="840",
                name="County Durham",
                new_la_code="E06000047",
            )
        )
    return db_app


def test_upload_correction_withdrawal_round_trip(app: Flask, tmp_path: Path) -> None:
    files = {1: synthetic_csv(1), 2: synthetic_csv(2)}
    for number, data in files.items():
        path = tmp_path / f"durham-v{number}.csv"
        path.write_bytes(data)
        result = exchange(app, "upload", str(path), "--authority", "840")
        assert result.exit_code == 0, result.output
        assert f"accepted as version {number}" in result.output

    with app.app_context():
        v2 = db.session.scalars(
            select(SubmissionVersion).where(SubmissionVersion.number == 2)
        ).one()
        v2_id = v2.id
    result = exchange(
        app, "submissions", "withdraw", str(v2_id), "--reason", "returned for the wrong LA"
    )
    assert result.exit_code == 0, result.output

    with app.app_context():  # a fresh session: everything below is read from the database
        session = db.session
        (submission,) = session.scalars(select(Submission)).all()
        assert (submission.time_period, submission.time_identifier) == ("2024", "Reporting year")
        versions = {v.number: v for v in submission.versions}
        assert versions[1].status is VersionStatus.SUPERSEDED
        assert versions[2].status is VersionStatus.WITHDRAWN
        assert versions[2].withdrawal_reason == "returned for the wrong LA"
        assert versions[2].withdrawn_by_label == "system:cli"
        for number, data in files.items():
            version = versions[number]
            assert read_file(session, version.file_id) == data
            rows = session.execute(
                select(func.count()).where(IndicatorValue.version_id == version.id)
            ).scalar_one()
            assert rows == version.row_count == data.count(b"\n") - 1
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        assert actions == ["file_stored", "upload_validated", "submission_accepted"] * 2 + [
            "submission_withdrawn"
        ]
        labels = set(session.scalars(select(AuditEvent.actor_label)))
        assert labels == {"system:cli"}
        count, broken = audit.verify(session)
        assert broken is None
        assert count == len(actions)

    listing = exchange(app, "submissions", "list", "--authority", "840")
    assert listing.exit_code == 0, listing.output
    assert "v2 [withdrawn]" in listing.output
    assert "v1 [superseded]" in listing.output


def test_rejected_upload_stores_nothing_but_the_audit_event(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "two-periods.csv"
    path.write_bytes(synthetic_csv(1, years=(2023, 2024)))
    with app.app_context():
        before = table_counts()

    result = exchange(app, "upload", str(path), "--authority", "840")

    assert result.exit_code == 1
    assert "INVALID" in result.output
    assert "one_period_per_file" in result.output
    with app.app_context():
        after = table_counts()
        changed = {t for t in before if before[t] != after[t]}
        assert changed == {"audit_event", "audit_head"}
        (event,) = db.session.scalars(select(AuditEvent)).all()
        assert (event.action, event.outcome) == ("validation_failed", "failure")
        assert event.details["errors_by_rule"] == {"one_period_per_file": 1}
        assert audit.verify(db.session)[1] is None


def test_upload_no_accept_leaves_a_pending_upload(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "durham.csv"
    path.write_bytes(synthetic_csv(4))
    result = exchange(app, "upload", str(path), "--authority", "840", "--no-accept")
    assert result.exit_code == 0, result.output
    with app.app_context():
        (pending,) = db.session.scalars(select(PendingUpload)).all()
        assert table_counts()["submission_version"] == 0
    result = exchange(app, "submissions", "accept", str(pending.id))
    assert result.exit_code == 0, result.output
    assert "accepted as version 1" in result.output


def test_concurrent_acceptances_make_consecutive_versions(app: Flask) -> None:
    """Two submitters accept different files for the same period at the same moment: both land,
    as versions 1 and 2, and exactly one of them is current."""
    with app.app_context():
        organisation = db.session.scalars(select(Organisation)).one()
        pending_ids = []
        for seed in (5, 6):
            with db.transaction() as session:
                _, pending = check_upload(
                    session, synthetic_csv(seed), "r.csv", organisation, SYSTEM
                )
            assert pending is not None
            pending_ids.append(pending.id)

    start = threading.Barrier(len(pending_ids))
    errors: list[BaseException] = []

    def accept(pending_id: object) -> None:
        try:
            with app.app_context():
                start.wait()
                with db.transaction() as session:
                    accept_upload(session, pending_id, SYSTEM)  # type: ignore[arg-type]
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=accept, args=(p,)) for p in pending_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []

    with app.app_context():
        (submission,) = db.session.scalars(select(Submission)).all()
        assert sorted(v.number for v in submission.versions) == [1, 2]
        statuses = sorted(str(v.status) for v in submission.versions)
        assert statuses == ["current", "superseded"]
        assert audit.verify(db.session)[1] is None
