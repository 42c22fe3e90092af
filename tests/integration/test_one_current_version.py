"""The database itself allows at most one current version per submission (a partial unique
index), whatever races the application loses."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from exchange.cli import main
from exchange.extensions import db
from exchange.models import SubmissionVersion, VersionStatus

pytestmark = pytest.mark.integration


def test_second_current_version_of_a_submission_is_refused(db_app: Flask) -> None:
    result = db_app.test_cli_runner().invoke(main, ["demo", "--periods", "2025", "--las", "841"])
    assert result.exit_code == 0, result.output
    with db_app.app_context():
        current = db.session.scalars(
            select(SubmissionVersion).where(SubmissionVersion.status == VersionStatus.CURRENT)
        ).first()
        assert current is not None
        twin = SubmissionVersion(
            submission_id=current.submission_id,
            number=current.number + 1,
            status=VersionStatus.CURRENT,
            file_id=current.file_id,
            filename=current.filename,
            row_count=current.row_count,
            catalogue_version=current.catalogue_version,
            accepted_by_label="test",
        )
        db.session.add(twin)
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
