"""Background jobs: queueing (with dedupe), the worker's state changes, the task wrapper
(``workers.tasks.run_job``) and who may see which job.

Celery's broker here is kombu's in-memory transport with no worker, so a queued job stays
queued; ``eager`` apps run the task in the caller instead. The real worker on Redis is
tests/integration/test_jobs_worker.py.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from exchange.actions import jobs
from exchange.extensions import db
from exchange.models import AuditEvent, Job, JobStatus, Organisation, OrganisationKind, Role
from exchange.security.policy import Principal
from exchange.security.principals import system_principal
from workers import tasks

SECRET = "48213"  # stands for a cell value an exception message might quote


@pytest.fixture
def queue_app(db_app: Flask) -> Flask:
    """The app with a broker that keeps messages in memory and no worker: jobs stay queued."""
    celery = db_app.extensions["celery"]
    celery.conf.task_always_eager = False
    celery.conf.broker_url = "memory://"
    with db_app.app_context():
        db.session.add_all(
            [
                Organisation(kind=OrganisationKind.LOCAL_AUTHORITY, code="840", name="Durham"),
                Organisation(kind=OrganisationKind.LOCAL_AUTHORITY, code="380", name="Bradford"),
                Organisation(kind=OrganisationKind.PLATFORM, code="platform", name="Platform"),
            ]
        )
        db.session.commit()
    return db_app


def org_id(code: str) -> int:
    found = db.session.scalar(select(Organisation.id).where(Organisation.code == code))
    assert found is not None
    return found


def principal(role: Role | None, code: str | None) -> Principal:
    kind = {
        Role.LA_SUBMITTER: OrganisationKind.LOCAL_AUTHORITY,
        Role.LA_VIEWER: OrganisationKind.LOCAL_AUTHORITY,
        Role.ADMINISTRATOR: OrganisationKind.PLATFORM,
    }
    return Principal(
        f"user:{role}@{code}",
        role,
        org_id(code) if code else None,
        kind[role] if role else None,
    )


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


# ------------------------------------------------------------------------------------ queueing


def test_enqueue_stores_a_queued_job_and_audits_it(queue_app: Flask) -> None:
    with queue_app.app_context():
        job = jobs.enqueue(db.session, "ping", {"period": "2025"}, organisation_id=org_id("840"))
        db.session.expire_all()
        stored = db.session.get(Job, job.id)
        assert stored is not None
        assert stored.status is JobStatus.QUEUED
        assert stored.params == {"period": "2025"}
        assert stored.attempts == 0
        assert stored.result is None
        assert stored.started_at is None
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "job_queued")
        ).one()
        assert (event.target_type, event.target_id) == ("job", job.id)
        assert event.organisation_id == org_id("840")
        assert event.details == {"kind": "ping"}
        assert event.actor_label == "system:jobs"


def test_enqueue_same_dedupe_key_while_queued_gives_one_job(queue_app: Flask) -> None:
    with queue_app.app_context():
        first = jobs.enqueue(db.session, "ping", {"period": "2025"}, dedupe_key="ping:2025")
        again = jobs.enqueue(db.session, "ping", {"period": "2025"}, dedupe_key="ping:2025")
        other = jobs.enqueue(db.session, "ping", {"period": "2024"}, dedupe_key="ping:2024")
        assert again.id == first.id
        assert other.id != first.id
        assert count(Job, Job.dedupe_key == "ping:2025") == 1
        assert count(AuditEvent, AuditEvent.action == "job_queued") == 2
        # Once it runs, the same work may be queued again (the running job may read old data).
        assert jobs.start(db.session, first.id)
        later = jobs.enqueue(db.session, "ping", {"period": "2025"}, dedupe_key="ping:2025")
        assert later.id != first.id
        assert later.status is JobStatus.QUEUED


def test_enqueue_refuses_unknown_kinds_and_values_in_params(queue_app: Flask) -> None:
    with queue_app.app_context():
        with pytest.raises(ValueError, match="no task runs jobs of kind 'nonsense'"):
            jobs.enqueue(db.session, "nonsense", {})
        with pytest.raises(ValueError, match="ids, periods and counts only"):
            jobs.enqueue(db.session, "ping", {"numerator": 12})
        assert count(Job) == 0
        assert count(AuditEvent) == 0


def test_enqueue_fails_the_job_when_the_broker_cannot_take_it(
    queue_app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError(f"broker down {SECRET}")

    monkeypatch.setitem(tasks.JOB_TASKS, "ping", SimpleNamespace(apply_async=unreachable))
    with queue_app.app_context():
        job = jobs.enqueue(db.session, "ping", {}, dedupe_key="ping")
        assert job.status is JobStatus.FAILED
        assert job.reason == jobs.NOT_QUEUED
        # Its key is free again: the next enqueue queues a new job.
        monkeypatch.undo()
        again = jobs.enqueue(db.session, "ping", {}, dedupe_key="ping")
        assert again.id != job.id
        assert again.status is JobStatus.QUEUED
    assert SECRET not in caplog.text


def test_enqueue_eager_runs_the_ping_task_through_run_job(db_app: Flask) -> None:
    with db_app.app_context():
        db.session.add(Organisation(kind=OrganisationKind.NATIONAL, code="national", name="N"))
        db.session.commit()
        job = jobs.enqueue(db.session, "ping", {})
        db.session.expire_all()
        done = db.session.get(Job, job.id)
        assert done is not None
        assert done.status is JobStatus.DONE
        assert done.result == {"organisations": 1}
        assert done.attempts == 1
        assert done.started_at is not None
        assert done.finished_at is not None
        assert done.finished_at >= done.started_at >= done.created_at


# --------------------------------------------------------------------------- the worker's side


def test_start_finish_fail_transitions(queue_app: Flask) -> None:
    with queue_app.app_context():
        job = jobs.enqueue(db.session, "ping", {})
        assert jobs.start(db.session, job.id)
        assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
        # Redelivered after its worker died: runs again, as attempt 2.
        assert jobs.start(db.session, job.id)
        assert job.attempts == 2
        assert jobs.finish(db.session, job.id, {"organisations": 3})
        assert job.status is JobStatus.DONE
        assert job.result == {"organisations": 3}
        # Finished: nothing changes it any more.
        assert not jobs.start(db.session, job.id)
        assert not jobs.finish(db.session, job.id, {"organisations": 4})
        assert not jobs.fail(db.session, job.id, "late")
        assert (job.status, job.attempts, job.result) == (JobStatus.DONE, 2, {"organisations": 3})
        # Unknown and malformed ids are simply not there.
        assert not jobs.start(db.session, "00000000-0000-4000-8000-000000000000")
        assert not jobs.start(db.session, "../../etc/passwd")


def test_fail_keeps_a_short_reason(queue_app: Flask) -> None:
    with queue_app.app_context():
        job = jobs.enqueue(db.session, "ping", {})
        assert jobs.fail(db.session, job.id, "x" * 2000)
        assert job.status is JobStatus.FAILED
        assert job.reason is not None
        assert len(job.reason) == 500
        assert not jobs.start(db.session, job.id)  # a failed job is not run again


def test_finish_refuses_values_in_the_result(queue_app: Flask) -> None:
    with queue_app.app_context():
        job = jobs.enqueue(db.session, "ping", {})
        jobs.start(db.session, job.id)
        with pytest.raises(ValueError, match="ids, periods and counts only"):
            jobs.finish(db.session, job.id, {"values": [1, 2]})
        assert job.status is JobStatus.RUNNING


def fake_task(retries: int) -> Any:
    return SimpleNamespace(request=SimpleNamespace(retries=retries), max_retries=4)


def test_run_job_marks_done_and_skips_a_redelivery(queue_app: Flask) -> None:
    calls: list[int] = []

    def work(job: Job) -> dict[str, int]:
        calls.append(job.attempts)
        return {"rows": 7}

    with queue_app.app_context():
        job = jobs.enqueue(db.session, "ping", {})
        assert tasks.run_job(job.id, work) == "done"
        assert tasks.run_job(job.id, work) == "skipped"
        db.session.expire_all()
        stored = db.session.get(Job, job.id)
        assert stored is not None
        assert (stored.status, stored.result, stored.attempts) == (JobStatus.DONE, {"rows": 7}, 1)
    assert calls == [1]


def test_run_job_commits_the_works_writes_with_its_result_or_not_at_all(
    queue_app: Flask,
) -> None:
    def adds(code: str, finished_elsewhere: bool = False) -> Any:
        def work(job: Job) -> dict[str, int]:
            db.session.add(Organisation(kind=OrganisationKind.ALLIANCE, code=code, name=code))
            if finished_elsewhere:  # another delivery of the same job got there first
                with Session(db.engine) as other:
                    jobs.finish(other, job.id, {"first": 1})
            return {"second": 2}

        return work

    with queue_app.app_context():
        kept = jobs.enqueue(db.session, "ping", {})
        assert tasks.run_job(kept.id, adds("alliance-kept")) == "done"
        dropped = jobs.enqueue(db.session, "ping", {})
        assert tasks.run_job(dropped.id, adds("alliance-dropped", True)) == "skipped"
        db.session.expire_all()
        assert count(Organisation, Organisation.code == "alliance-kept") == 1
        assert count(Organisation, Organisation.code == "alliance-dropped") == 0
        again = db.session.get(Job, dropped.id)
        assert again is not None
        assert again.result == {"first": 1}


def test_run_job_failure_names_the_exception_type_never_its_message(
    queue_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def work(job: Job) -> dict[str, int]:
        raise ValueError(f"cell value {SECRET} is not a number")

    caplog.set_level(logging.INFO)
    with queue_app.app_context():
        job = jobs.enqueue(db.session, "ping", {})
        assert tasks.run_job(job.id, work, task=fake_task(0)) == "failed"
        db.session.expire_all()
        stored = db.session.get(Job, job.id)
        assert stored is not None
        assert stored.status is JobStatus.FAILED
        assert stored.reason == "Failed unexpectedly (ValueError)."
        assert stored.result is None
    assert "ValueError" in caplog.text
    assert SECRET not in caplog.text


def test_run_job_retries_temporary_errors_then_fails(
    queue_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def work(job: Job) -> dict[str, int]:
        raise OperationalError(f"SELECT {SECRET}", {}, Exception("server closed the connection"))

    with queue_app.app_context():
        job = jobs.enqueue(db.session, "ping", {})
        with pytest.raises(OperationalError):
            tasks.run_job(job.id, work, task=fake_task(0))  # Celery retries it
        db.session.expire_all()
        waiting = db.session.get(Job, job.id)
        assert waiting is not None
        assert waiting.status is JobStatus.RUNNING
        assert waiting.reason == (
            "Waiting to try again after a temporary problem (OperationalError)."
        )
        # The last retry: the job fails, and the error is not raised again.
        assert tasks.run_job(job.id, work, task=fake_task(4)) == "failed"
        db.session.expire_all()
        failed = db.session.get(Job, job.id)
        assert failed is not None
        assert failed.status is JobStatus.FAILED
        assert failed.attempts == 2
        assert failed.reason == "Failed: a temporary problem persisted (OperationalError)."
    assert SECRET not in caplog.text


def test_job_tasks_are_acknowledged_late_and_retried_boundedly(db_app: Flask) -> None:
    task = db_app.extensions["celery"].tasks["exchange.ping_job"]
    assert task.acks_late
    assert task.reject_on_worker_lost
    assert task.max_retries == tasks.MAX_RETRIES
    assert set(task.autoretry_for) == {OSError, OperationalError}
    assert task.ignore_result
    assert tasks.job_task_for("ping").name == "exchange.ping_job"


# ----------------------------------------------------------------------------------- visibility


def test_jobs_users_see_their_organisations_jobs_administrators_all(queue_app: Flask) -> None:
    with queue_app.app_context():
        durham = jobs.enqueue(db.session, "ping", {}, organisation_id=org_id("840"))
        bradford = jobs.enqueue(db.session, "ping", {}, organisation_id=org_id("380"))
        system = jobs.enqueue(db.session, "ping", {})
        a_user = principal(Role.LA_VIEWER, "840")
        admin = principal(Role.ADMINISTRATOR, "platform")

        assert [j.id for j in jobs.jobs(db.session, a_user)] == [durham.id]
        assert jobs.jobs(db.session, a_user, organisation_id=org_id("380")) == []
        assert jobs.job(db.session, a_user, durham.id) is not None
        assert jobs.job(db.session, a_user, bradford.id) is None
        assert jobs.job(db.session, a_user, system.id) is None

        every = {j.id for j in jobs.jobs(db.session, admin)}
        assert every == {durham.id, bradford.id, system.id}
        assert {j.id for j in jobs.jobs(db.session, system_principal())} == every
        assert jobs.job(db.session, admin, bradford.id) is not None
        only = jobs.jobs(db.session, admin, organisation_id=org_id("380"))
        assert [j.id for j in only] == [bradford.id]

        jobs.start(db.session, bradford.id)
        running = jobs.jobs(db.session, admin, status="running")
        assert [j.id for j in running] == [bradford.id]
        assert len(jobs.jobs(db.session, admin, kind="ping", limit=2)) == 2
        with pytest.raises(ValueError, match="unknown job status"):
            jobs.jobs(db.session, admin, status="lost")


def test_jobs_nobody_and_inconsistent_accounts_see_nothing(queue_app: Flask) -> None:
    with queue_app.app_context():
        job = jobs.enqueue(db.session, "ping", {}, organisation_id=org_id("840"))
        # An LA role in the platform organisation: the policy grants it nothing.
        odd = Principal("user:odd", Role.LA_VIEWER, org_id("840"), OrganisationKind.PLATFORM)
        for viewer in (None, odd):
            with pytest.raises(PermissionError):
                jobs.jobs(db.session, viewer)
            assert jobs.job(db.session, viewer, job.id) is None


def test_beat_schedule_queues_an_incremental_comparisons_job(queue_app: Flask) -> None:
    from exchange.config import SCHEDULE_COMPARISONS_TASK

    celery = queue_app.extensions["celery"]
    [entry] = celery.conf.beat_schedule.values()
    assert entry["task"] == SCHEDULE_COMPARISONS_TASK
    assert SCHEDULE_COMPARISONS_TASK in celery.tasks
    with queue_app.app_context():
        first = celery.tasks[SCHEDULE_COMPARISONS_TASK].apply().get()
        again = celery.tasks[SCHEDULE_COMPARISONS_TASK].apply().get()
        job = db.session.get(Job, first)
        assert job is not None
        assert (job.kind, job.status) == ("comparisons", JobStatus.QUEUED)
        assert again == first  # still queued: the second night joins it
