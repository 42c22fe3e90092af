"""Validation jobs: their state, the uploaded bytes and the finished report.

Every validation is a job with a random UUID4 id, whether it ran in the request (small files) or
on a Celery worker (large ones). This issue has no database, so :class:`FileJobStore` keeps each
job as a small JSON file under ``instance/jobs/``, the uploaded bytes under ``instance/uploads/``
(deleted once validated) and the report under ``instance/reports/``. Callers use only the
:class:`JobStore` interface, so a SQLAlchemy-backed store can replace it without touching them.

Files are written atomically (temporary file, then rename) and are readable only by the service's
user (0600 in 0700 directories): uploads and reports hold the file's cell values.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app

__all__ = [
    "FileJobStore",
    "Job",
    "JobStatus",
    "JobStore",
    "UnknownJobError",
    "get_job_store",
    "new_job_id",
]


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED)


class UnknownJobError(KeyError):
    """No job has this id (or the id is not a job id at all)."""


def new_job_id() -> str:
    return str(uuid.uuid4())


def _checked_id(job_id: str) -> str:
    """The id in canonical form; anything else (including path tricks) is unknown."""
    try:
        parsed = uuid.UUID(job_id)
    except (ValueError, TypeError, AttributeError):
        raise UnknownJobError(job_id) from None
    if parsed.version != 4 or str(parsed) != job_id:
        raise UnknownJobError(job_id)
    return job_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Job:
    id: str
    filename: str
    size: int
    authority: str | None = None
    status: JobStatus = JobStatus.QUEUED
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    # Why the job failed, in words for the uploader; never a cell value.
    error: str | None = None
    # ValidationReport.summary() once done (counts only, no cell values).
    summary: dict[str, object] | None = None
    # Set for an LA's submission (the portal's upload page): the check then runs
    # exchange.actions.submissions.check_upload for this organisation as this actor, and a
    # valid file becomes the pending upload named here (its id is the job id).
    organisation_id: int | None = None
    actor_user_id: int | None = None
    actor_label: str | None = None
    pending_upload_id: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "status": str(self.status)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Job:
        return cls(**{**data, "status": JobStatus(data["status"])})  # type: ignore[arg-type]


class JobStore(Protocol):
    """Where jobs, their uploads and their reports live."""

    def create(self, job: Job) -> Job: ...

    def get(self, job_id: str) -> Job:
        """The job; raises UnknownJobError."""
        ...

    def update(self, job_id: str, **changes: object) -> Job: ...

    def save_upload(self, job_id: str, stream: BinaryIO) -> int:
        """Store the upload's bytes (read from ``stream``); returns the number stored."""
        ...

    def load_upload(self, job_id: str) -> bytes: ...

    def delete_upload(self, job_id: str) -> None: ...

    def save_report(self, job_id: str, report_json: str) -> None: ...

    def load_report(self, job_id: str) -> str:
        """The report JSON (ValidationReport.to_json()); raises UnknownJobError if none."""
        ...


class FileJobStore:
    """A :class:`JobStore` in files under the instance folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.jobs_dir = self.root / "jobs"
        self.uploads_dir = self.root / "uploads"
        self.reports_dir = self.root / "reports"

    # -- paths -------------------------------------------------------------------------------

    def _dir(self, path: Path) -> Path:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def _job_path(self, job_id: str) -> Path:
        return self.jobs_dir / f"{_checked_id(job_id)}.json"

    def _upload_path(self, job_id: str) -> Path:
        return self.uploads_dir / _checked_id(job_id)

    def _report_path(self, job_id: str) -> Path:
        return self.reports_dir / f"{_checked_id(job_id)}.json"

    def _write_atomic(self, path: Path, data: bytes | BinaryIO) -> int:
        """Write to a 0600 temporary file beside ``path``, then rename it into place."""
        directory = self._dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")  # mkstemp creates it 0600
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
                size = out.tell()
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return size

    # -- jobs --------------------------------------------------------------------------------

    def create(self, job: Job) -> Job:
        self._write_atomic(self._job_path(job.id), json.dumps(job.to_dict()).encode())
        return job

    def get(self, job_id: str) -> Job:
        try:
            text = self._job_path(job_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UnknownJobError(job_id) from None
        return Job.from_dict(json.loads(text))

    def update(self, job_id: str, **changes: object) -> Job:
        # One writer per job at a time (the request that created it, then the one task that
        # runs it), so read-modify-write needs no lock.
        job = replace(self.get(job_id), **changes, updated_at=_now())  # type: ignore[arg-type]
        self._write_atomic(self._job_path(job_id), json.dumps(job.to_dict()).encode())
        return job

    # -- uploads and reports -----------------------------------------------------------------

    def save_upload(self, job_id: str, stream: BinaryIO) -> int:
        return self._write_atomic(self._upload_path(job_id), stream)

    def load_upload(self, job_id: str) -> bytes:
        return self._upload_path(job_id).read_bytes()

    def delete_upload(self, job_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._upload_path(job_id).unlink()

    def save_report(self, job_id: str, report_json: str) -> None:
        self._write_atomic(self._report_path(job_id), report_json.encode("utf-8"))

    def load_report(self, job_id: str) -> str:
        try:
            return self._report_path(job_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UnknownJobError(job_id) from None


def get_job_store() -> JobStore:
    """The current app's job store (the only place that chooses the implementation)."""
    config = current_app.config["EXCHANGE"]
    return FileJobStore(config.instance_path)
