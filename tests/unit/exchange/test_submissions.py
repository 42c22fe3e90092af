"""Submissions: check → pending upload → version → correction → withdrawal, on a fresh database.

Runs on SQLite by default and on PostgreSQL when EXCHANGE_TEST_DATABASE_URL is set (the
``db_app`` fixture). Files are the synthetic returns of County Durham (840), so the data has the
shape and size of a real return (~1,750 rows, 125 indicators, some ``x`` cells).
"""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange import audit
from exchange.actions import submissions as actions
from exchange.actions.files import read_file
from exchange.actions.submissions import (
    DENIED_ACTION,
    ONE_PERIOD_RULE,
    SubmissionError,
    SubmissionNotFound,
    SubmissionStateError,
    accept_upload,
    check_upload,
    discard_upload,
    history,
    indicators_by_version,
    latest_by_period,
    may,
    pending_uploads,
    withdraw_version,
)
from exchange.actions.validation import submit_validation
from exchange.extensions import db
from exchange.jobs import JobStatus, get_job_store
from exchange.models import (
    AuditEvent,
    Base,
    IndicatorValue,
    Organisation,
    OrganisationKind,
    PendingUpload,
    PendingUploadStatus,
    Role,
    StoredFile,
    SubmissionVersion,
    User,
    VersionStatus,
)
from exchange.models.base import utcnow
from exchange.security.policy import Principal
from exchange.security.principals import principal_for_user, system_principal
from schemas.synth import generate
from schemas.synth.files import frame_to_xlsx

SYSTEM = system_principal("system:cli")

# The worked example of docs/upload-format.md: a suppressed row (c), a yes/no indicator and a
# negative mean change, with exactly known values.
WORKED_EXAMPLE = (
    b"time_period,time_identifier,geographic_level,new_la_code,old_la_code,la_name,"
    b"indicator_id,breakdown_topic,breakdown,numerator,denominator,respondents,n,value,sd\n"
    b"2025,Reporting year,Local authority,E06000047,840,County Durham,t3_referrals_nfa,"
    b"Total,Total,412,3050,,,13.5,\n"
    b"2025,Reporting year,Local authority,E06000047,840,County Durham,t3_referrals_nfa,"
    b"gender,Male,220,1610,,,13.7,\n"
    b"2025,Reporting year,Local authority,E06000047,840,County Durham,t3_referrals_nfa,"
    b"gender,Female,185,1402,,,13.2,\n"
    b"2025,Reporting year,Local authority,E06000047,840,County Durham,t3_referrals_nfa,"
    b"gender,Unknown or other,7.0,038,,,18.4,\n"
    b"2025,Reporting year,Local authority,E06000047,840,County Durham,t2_feel_valued,"
    b"Total,Total,c,,C,,c,\n"
    b"2025,Reporting year,Local authority,E06000047,840,County Durham,t2_values_statement,"
    b"Total,Total,,,,,Yes,\n"
    b"2025,Reporting year,Local authority,E06000047,840,County Durham,t5_sdq_conduct_change,"
    b"Total,Total,,,,64,-0.42,1.9\n"
)


def synthetic_csv(years: list[int], seed: int = 7, la: str = "840") -> bytes:
    return generate(years, seed, las=[la]).to_csv(index=False).encode("utf-8")


def data_rows(data: bytes) -> int:
    return data.decode("utf-8").count("\n") - 1


@dataclass
class World:
    durham: Organisation
    darlington: Organisation
    submitter: Principal
    viewer: Principal
    other_submitter: Principal
    submitter_user: User


def _user(session: Session, org: Organisation, role: Role, email: str) -> User:
    user = User(
        email=email,
        name=email.split("@")[0],
        organisation_id=org.id,
        role=role,
        password_hash="not-a-real-hash",
        mfa_enrolled_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def world(db_app: Flask) -> Iterator[World]:
    with db_app.app_context():
        with db.transaction() as session:
            durham = Organisation(
                kind=OrganisationKind.LOCAL_AUTHORITY,
                code="840",
                name="County Durham",
                new_la_code="E06000047",
            )
            darlington = Organisation(
                kind=OrganisationKind.LOCAL_AUTHORITY,
                code="841",
                name="Darlington",
                new_la_code="E06000005",
            )
            session.add_all([durham, darlington])
            session.flush()
            submitter = _user(session, durham, Role.LA_SUBMITTER, "sub@durham.example")
            viewer = _user(session, durham, Role.LA_VIEWER, "view@durham.example")
            other = _user(session, darlington, Role.LA_SUBMITTER, "sub@darlington.example")
        yield World(
            durham=durham,
            darlington=darlington,
            submitter=principal_for_user(session, submitter),
            viewer=principal_for_user(session, viewer),
            other_submitter=principal_for_user(session, other),
            submitter_user=submitter,
        )


def table_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in Base.metadata.sorted_tables
    }


def events(session: Session, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))


def check(
    data: bytes, org: Organisation, actor: Principal = SYSTEM, filename: str = "return.csv"
) -> tuple[Any, PendingUpload | None]:
    with db.transaction() as session:
        return check_upload(session, data, filename, org, actor)


def submit(data: bytes, org: Organisation, actor: Principal = SYSTEM) -> SubmissionVersion:
    report, pending = check(data, org, actor)
    assert report.ok, report.to_text()
    assert pending is not None
    with db.transaction() as session:
        return accept_upload(session, pending.id, actor)


# -- checking -----------------------------------------------------------------------------------


def test_check_upload_valid_file_stores_encrypted_pending_upload(world: World) -> None:
    data = synthetic_csv([2024])
    report, pending = check(data, world.durham, world.submitter)

    assert report.ok
    assert pending is not None
    assert pending.status is PendingUploadStatus.PENDING
    assert (pending.time_period, pending.time_identifier) == ("2024", "Reporting year")
    assert pending.row_count == data_rows(data) == report.rows
    assert pending.uploaded_by == world.submitter.user_id
    assert pending.uploaded_by_label == world.submitter.label
    assert pending.summary["indicators"] == 125
    assert sum(pending.summary["indicators_by_domain"].values()) == 125
    session = db.session
    assert read_file(session, pending.file_id) == data
    stored = session.get(StoredFile, pending.file_id)
    assert stored is not None
    assert data not in stored.ciphertext
    assert [e.action for e in events(session)] == ["file_stored", "upload_validated"]
    validated = events(session, "upload_validated")[0]
    assert validated.target_id == str(pending.id)
    assert validated.details["rows"] == pending.row_count


def test_check_upload_invalid_file_stores_only_the_audit_event(world: World) -> None:
    bad = WORKED_EXAMPLE.replace(b",412,3050,,,13.5,", b",412,3050,,,15.0,").replace(
        b"Female", b"Girls"
    )
    before = table_counts(db.session)

    report, pending = check(bad, world.durham, world.submitter)

    assert not report.ok
    assert pending is None
    after = table_counts(db.session)
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert changed == {"audit_event": (0, 1), "audit_head": (0, 1)}
    (event,) = events(db.session)
    assert event.action == "validation_failed"
    assert event.outcome == "failure"
    assert event.details["errors_by_rule"] == report.summary()["errors_by_rule"]
    assert event.details["errors"] == len(report.errors) >= 2
    text = json.dumps(event.details)
    assert "15.0" not in text
    assert "Girls" not in text


def test_check_upload_file_with_two_periods_is_rejected(world: World) -> None:
    data = synthetic_csv([2023, 2024])
    before = table_counts(db.session)

    report, pending = check(data, world.durham)

    assert pending is None
    assert [p.rule for p in report.errors] == [ONE_PERIOD_RULE]
    (problem,) = report.errors
    assert "Reporting year 2023" in problem.message
    assert "Reporting year 2024" in problem.message
    assert problem.column == "time_period"
    assert problem.row is not None
    assert table_counts(db.session)["stored_file"] == before["stored_file"] == 0
    assert events(db.session, "validation_failed")[0].details["errors_by_rule"] == {
        ONE_PERIOD_RULE: 1
    }


def test_check_upload_rows_of_another_la_are_rejected(world: World) -> None:
    report, pending = check(synthetic_csv([2024], la="841"), world.durham)
    assert pending is None
    assert "la_matches_authority" in report.summary()["errors_by_rule"]


def test_check_upload_with_upload_id_stores_the_file_once(world: World) -> None:
    upload_id = uuid.uuid4()
    data = synthetic_csv([2024])
    for _ in range(2):
        with db.transaction() as session:
            report, pending = check_upload(
                session, data, "r.csv", world.durham, SYSTEM, upload_id=upload_id
            )
        assert report.ok
        assert pending is not None
        assert pending.id == upload_id
    counts = table_counts(db.session)
    assert counts["pending_upload"] == counts["stored_file"] == 1


# -- accepting, correcting, withdrawing ---------------------------------------------------------


def test_accept_upload_creates_version_one_with_every_row(world: World) -> None:
    data = synthetic_csv([2024])
    version = submit(data, world.durham, world.submitter)

    session = db.session
    assert version.number == 1
    assert version.status is VersionStatus.CURRENT
    assert version.accepted_by == world.submitter.user_id
    assert version.row_count == data_rows(data)
    count = session.execute(
        select(func.count()).where(IndicatorValue.version_id == version.id)
    ).scalar_one()
    assert count == data_rows(data)
    pending = session.get(PendingUpload, version.pending_upload_id)
    assert pending is not None
    assert pending.status is PendingUploadStatus.ACCEPTED
    (event,) = events(session, "submission_accepted")
    assert event.details["version"] == 1
    assert event.details["rows"] == count
    assert event.target_id == str(version.id)


def test_accept_upload_stores_values_symbols_and_yes_no(world: World) -> None:
    version = submit(WORKED_EXAMPLE, world.durham)
    rows = {
        (v.indicator_id, v.breakdown): v
        for v in db.session.scalars(
            select(IndicatorValue).where(IndicatorValue.version_id == version.id)
        )
    }
    assert len(rows) == 7
    total = rows[("t3_referrals_nfa", "Total")]
    assert (total.numerator, total.denominator, total.value, total.respondents) == (
        412,
        3050,
        13.5,
        None,
    )
    assert total.symbols is None
    unknown = rows[("t3_referrals_nfa", "Unknown or other")]
    assert (unknown.numerator, unknown.denominator) == (7, 38)  # "7.0" and "038"
    suppressed = rows[("t2_feel_valued", "Total")]
    assert (suppressed.numerator, suppressed.respondents, suppressed.value) == (None, None, None)
    assert suppressed.symbols == {"numerator": "c", "respondents": "c", "value": "c"}
    assert rows[("t2_values_statement", "Total")].value == 1.0  # "Yes"
    sdq = rows[("t5_sdq_conduct_change", "Total")]
    assert (sdq.n, sdq.value, sdq.sd) == (64, -0.42, 1.9)
    stored_null = db.session.execute(
        select(func.count()).where(
            IndicatorValue.version_id == version.id, IndicatorValue.symbols.is_(None)
        )
    ).scalar_one()
    assert stored_null == 6  # SQL NULL, not JSON null, when a row has no symbols


def test_correction_supersedes_and_withdrawal_is_recorded(world: World) -> None:
    first, second = synthetic_csv([2024], seed=1), synthetic_csv([2024], seed=2)
    assert first != second
    v1 = submit(first, world.durham, world.submitter)
    v2 = submit(second, world.durham, world.submitter)

    session = db.session
    session.expire_all()
    assert (v1.number, v2.number) == (1, 2)
    assert v1.submission_id == v2.submission_id
    assert session.get(SubmissionVersion, v1.id).status is VersionStatus.SUPERSEDED
    assert session.get(SubmissionVersion, v2.id).status is VersionStatus.CURRENT
    assert read_file(session, v1.file_id) == first
    assert read_file(session, v2.file_id) == second
    assert events(session, "submission_accepted")[1].details["superseded_version"] == 1

    with db.transaction() as session:
        withdrawn = withdraw_version(session, v2.id, world.submitter, "wrong period returned")
    session.expire_all()
    assert withdrawn.status is VersionStatus.WITHDRAWN
    assert withdrawn.withdrawn_by == world.submitter.user_id
    assert withdrawn.withdrawal_reason == "wrong period returned"
    assert session.get(SubmissionVersion, v1.id).status is VersionStatus.SUPERSEDED
    # Nothing is deleted: both versions keep their rows and raw files.
    for version, data in ((v1, first), (v2, second)):
        count = session.execute(
            select(func.count()).where(IndicatorValue.version_id == version.id)
        ).scalar_one()
        assert count == data_rows(data)
        assert read_file(session, version.file_id) == data
    latest = latest_by_period(session, world.durham.id)
    assert latest[("2024", "Reporting year")].id == v2.id
    (event,) = events(session, "submission_withdrawn")
    assert event.details["version"] == 2
    assert event.details["previous_status"] == "current"
    assert "wrong period" not in json.dumps(event.details)

    (submission,) = history(session, world.durham.id)
    assert [(v.number, v.status) for v in submission.versions] == [
        (2, VersionStatus.WITHDRAWN),
        (1, VersionStatus.SUPERSEDED),
    ]
    assert submission.current is None
    v3 = submit(first, world.durham, world.submitter)
    assert v3.number == 3
    assert v3.status is VersionStatus.CURRENT


def test_withdraw_version_needs_a_reason_and_only_once(world: World) -> None:
    version = submit(WORKED_EXAMPLE, world.durham)
    with pytest.raises(SubmissionError, match="reason"), db.transaction() as session:
        withdraw_version(session, version.id, SYSTEM, "   ")
    with db.transaction() as session:
        withdraw_version(session, version.id, SYSTEM, "duplicate")
    with pytest.raises(SubmissionStateError), db.transaction() as session:
        withdraw_version(session, version.id, SYSTEM, "again")
    with pytest.raises(SubmissionNotFound), db.transaction() as session:
        withdraw_version(session, version.id + 100, SYSTEM, "missing")


def test_accept_upload_twice_is_refused(world: World) -> None:
    _, pending = check(WORKED_EXAMPLE, world.durham)
    assert pending is not None
    with db.transaction() as session:
        accept_upload(session, pending.id, SYSTEM)
    refused = pytest.raises(SubmissionStateError, match="already been accepted")
    with refused, db.transaction() as session:
        accept_upload(session, pending.id, SYSTEM)
    assert table_counts(db.session)["submission_version"] == 1


def test_discard_upload_leaves_no_version(world: World) -> None:
    _, pending = check(WORKED_EXAMPLE, world.durham, world.submitter)
    assert pending is not None
    assert pending_uploads(db.session, world.durham.id) == [pending]
    with db.transaction() as session:
        discarded = discard_upload(session, pending.id, world.submitter)
    assert discarded.status is PendingUploadStatus.DISCARDED
    assert pending_uploads(db.session, world.durham.id) == []
    with pytest.raises(SubmissionStateError), db.transaction() as session:
        accept_upload(session, pending.id, world.submitter)
    assert table_counts(db.session)["submission"] == 0
    assert events(db.session, "upload_discarded")[0].target_id == str(pending.id)


def test_accept_upload_unknown_id_is_not_found(world: World) -> None:
    for bad in (uuid.uuid4(), "not-a-uuid"):
        with pytest.raises(SubmissionNotFound), db.transaction() as session:
            accept_upload(session, bad, SYSTEM)


def test_accept_upload_lands_whole_or_not_at_all(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = synthetic_csv([2024])
    submit(synthetic_csv([2024], seed=3), world.durham)  # v1, to be superseded
    _, pending = check(data, world.durham)
    assert pending is not None
    before = table_counts(db.session)

    real_insert = actions._insert_batch
    calls: list[int] = []

    def fail_on_second_batch(session: Session, batch: list[dict[str, Any]]) -> None:
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        real_insert(session, batch)

    monkeypatch.setattr(actions, "VALUE_BATCH_SIZE", 500)
    monkeypatch.setattr(actions, "_insert_batch", fail_on_second_batch)
    with pytest.raises(RuntimeError, match="disk full"), db.transaction() as session:
        accept_upload(session, pending.id, SYSTEM)

    assert calls == [500, 500]
    session = db.session
    session.expire_all()
    assert table_counts(session) == before
    assert session.get(PendingUpload, pending.id).status is PendingUploadStatus.PENDING
    (submission,) = history(session, world.durham.id)
    assert [(v.number, v.status) for v in submission.versions] == [(1, VersionStatus.CURRENT)]
    assert len(events(session, "submission_accepted")) == 1

    monkeypatch.setattr(actions, "_insert_batch", real_insert)
    with db.transaction() as session:
        version = accept_upload(session, pending.id, SYSTEM)
    assert version.number == 2
    assert table_counts(db.session)["indicator_value"] == before["indicator_value"] + data_rows(
        data
    )


def test_accept_upload_refuses_a_file_checked_against_another_catalogue(world: World) -> None:
    _, pending = check(WORKED_EXAMPLE, world.durham)
    assert pending is not None
    with db.transaction() as session:
        session.get(PendingUpload, pending.id).catalogue_version = "1999.1"
    refused = pytest.raises(SubmissionStateError, match="catalogue has changed")
    with refused, db.transaction() as session:
        accept_upload(session, pending.id, SYSTEM)


def test_xlsx_upload_keeps_exact_bytes_and_all_rows(world: World) -> None:
    frame = generate([2025], 5, las=["840"])
    data = frame_to_xlsx(frame, notes=["County Durham's return"])  # data on the second sheet
    report, pending = check(data, world.durham, filename="return.xlsx")
    assert report.ok, report.to_text()
    assert pending is not None
    assert db.session.get(StoredFile, pending.file_id).media_type.endswith("spreadsheetml.sheet")
    with db.transaction() as session:
        version = accept_upload(session, pending.id, SYSTEM)
    assert read_file(db.session, version.file_id) == data
    assert version.row_count == len(frame)
    assert indicators_by_version(db.session, [version.id])[version.id] == set(frame["indicator_id"])


# -- who may do what ----------------------------------------------------------------------------


def test_may_allows_own_submitters_and_system_only(world: World) -> None:
    durham = world.durham.id
    assert may(world.submitter, "upload", durham)
    assert may(world.submitter, "withdraw", durham)
    assert may(SYSTEM, "accept", durham)
    assert may(world.viewer, "view", durham)
    assert not may(world.viewer, "upload", durham)
    assert not may(world.other_submitter, "view", durham)
    assert not may(world.other_submitter, "accept", durham)
    assert not may(None, "view", durham)


def test_check_upload_by_viewer_is_refused_and_audited(world: World) -> None:
    before = table_counts(db.session)
    with pytest.raises(PermissionError), db.transaction() as session:
        check_upload(session, WORKED_EXAMPLE, "r.csv", world.durham, world.viewer)
    after = table_counts(db.session)
    assert {t for t in before if before[t] != after[t]} == {"audit_event", "audit_head"}
    (event,) = events(db.session)
    assert (event.action, event.outcome) == (DENIED_ACTION, "denied")
    assert event.details == {"attempted": "upload"}
    assert event.actor_user_id == world.viewer.user_id


def test_another_las_submitter_cannot_accept_discard_or_withdraw(world: World) -> None:
    _, pending = check(WORKED_EXAMPLE, world.durham, world.submitter)
    assert pending is not None
    for act in (accept_upload, discard_upload):
        with pytest.raises(PermissionError), db.transaction() as session:
            act(session, pending.id, world.other_submitter)
    version = submit(WORKED_EXAMPLE, world.durham, world.submitter)
    with pytest.raises(PermissionError), db.transaction() as session:
        withdraw_version(session, version.id, world.other_submitter, "not mine")
    db.session.expire_all()
    assert db.session.get(SubmissionVersion, version.id).status is VersionStatus.CURRENT
    attempted = [e.details["attempted"] for e in events(db.session, DENIED_ACTION)]
    assert attempted == ["accept", "discard", "withdraw"]


def test_only_a_local_authority_submits(world: World) -> None:
    with db.transaction() as session:
        national = Organisation(kind=OrganisationKind.NATIONAL, code="national", name="N")
        session.add(national)
    with pytest.raises(SubmissionError), db.transaction() as session:
        check_upload(session, WORKED_EXAMPLE, "r.csv", national, SYSTEM)


# -- the audit chain and the job flow -----------------------------------------------------------


def test_audit_chain_verifies_after_the_whole_flow(world: World) -> None:
    check(b"not,a,return\n1,2,3\n", world.durham, world.submitter)
    v1 = submit(synthetic_csv([2024], seed=1), world.durham, world.submitter)
    submit(synthetic_csv([2024], seed=2), world.durham, world.submitter)
    with db.transaction() as session:
        withdraw_version(session, v1.id, world.submitter, "superseded data was wrong")
    count, broken = audit.verify(db.session)
    assert broken is None
    assert count == len(events(db.session)) == 1 + 3 + 3 + 1


def _submission_job(app: Flask, data: bytes, world: World, *, inline: bool) -> Any:
    config = app.config["EXCHANGE"]
    threshold = len(data) + 1 if inline else 16
    app.config["EXCHANGE"] = dataclasses.replace(config, inline_validation_bytes=threshold)
    try:
        return submit_validation(
            io.BytesIO(data),
            "return.csv",
            world.durham.code,
            organisation_id=world.durham.id,
            actor_user_id=world.submitter.user_id,
            actor_label=world.submitter.label,
        )
    finally:
        app.config["EXCHANGE"] = config


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "worker"])
def test_submission_job_stores_pending_upload_named_by_the_job(
    db_app: Flask, world: World, inline: bool
) -> None:
    data = synthetic_csv([2024])
    job = _submission_job(db_app, data, world, inline=inline)

    job = get_job_store().get(job.id)
    assert job.status is JobStatus.DONE
    assert job.summary is not None
    assert job.summary["valid"]
    assert job.pending_upload_id == job.id
    db.session.expire_all()
    pending = db.session.get(PendingUpload, uuid.UUID(job.id))
    assert pending is not None
    assert pending.uploaded_by == world.submitter.user_id
    assert read_file(db.session, pending.file_id) == data


def test_submission_job_invalid_file_has_report_and_no_pending_upload(
    db_app: Flask, world: World
) -> None:
    job = _submission_job(db_app, synthetic_csv([2024], la="841"), world, inline=False)
    job = get_job_store().get(job.id)
    assert job.status is JobStatus.DONE
    assert job.pending_upload_id is None
    assert job.summary is not None
    assert not job.summary["valid"]
    assert table_counts(db.session)["pending_upload"] == 0
    assert events(db.session)[-1].action == "validation_failed"
