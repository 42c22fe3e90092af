"""Raw files encrypted at rest in the database (exchange.actions.files), on a real database.

What is stored is only ciphertext; reading gives back the exact bytes; any change to a row
(its ciphertext, its metadata, or a blob moved from another row) is detected.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from flask import Flask
from sqlalchemy import select, update

from exchange.actions.files import StoredFileNotFound, read_file, store_file
from exchange.audit import verify
from exchange.extensions import db
from exchange.models import AuditEvent, StoredFile
from exchange.security.crypto import TamperError, UnknownKeyError

pytestmark = pytest.mark.integration

CSV = b"time_period,indicator_id,value\n2025,t3_referrals_nfa,10.0\n"


def store(data: bytes, purpose: str = "submission_raw", name: str = "return.csv") -> int:
    with db.transaction() as session:
        stored = store_file(
            session,
            data,
            filename=name,
            media_type="text/csv",
            purpose=purpose,
            actor_label="tester",
        )
        return stored.id


def test_store_file_round_trip_exact_bytes(db_app: Flask) -> None:
    payloads = [CSV, b"", os.urandom(3 * 1024 * 1024)]
    with db_app.app_context():
        ids = [store(data) for data in payloads]
    with db_app.app_context():  # a fresh session: nothing cached
        for file_id, data in zip(ids, payloads, strict=True):
            assert read_file(db.session, file_id) == data
            row = db.session.get(StoredFile, file_id)
            assert row is not None
            assert row.size == len(data)
            assert row.sha256 == hashlib.sha256(data).hexdigest()
            assert row.key_id == db_app.config["EXCHANGE"].active_key_id
            if data:
                assert data not in row.ciphertext
                assert row.ciphertext != data


def test_store_file_audited_without_contents(db_app: Flask) -> None:
    with db_app.app_context():
        file_id = store(CSV)
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "file_stored")
        ).one()
        assert event.target_type == "stored_file"
        assert event.target_id == str(file_id)
        assert event.details["size"] == len(CSV)
        assert event.details["purpose"] == "submission_raw"
        assert "t3_referrals_nfa" not in str(event.details)
        assert verify(db.session)[1] is None


def store_then_fail() -> None:
    with db.transaction() as session:
        store_file(
            session,
            CSV,
            filename="a.csv",
            media_type="text/csv",
            purpose="submission_raw",
            actor_label="tester",
        )
        raise RuntimeError("the submission failed after the file was stored")


def test_store_file_rolls_back_with_the_callers_transaction(db_app: Flask) -> None:
    with db_app.app_context():
        with pytest.raises(RuntimeError, match="submission failed"):
            store_then_fail()
        assert db.session.scalars(select(StoredFile)).all() == []
        assert db.session.scalars(select(AuditEvent)).all() == []


@pytest.mark.parametrize(
    ("column", "value", "error"),
    [
        ("sha256", hashlib.sha256(b"other").hexdigest(), TamperError),
        ("size", 1, TamperError),
        ("purpose", "other_purpose", TamperError),
        ("key_id", "k-missing", UnknownKeyError),
    ],
)
def test_read_file_altered_metadata_raises(
    db_app: Flask, column: str, value: object, error: type[Exception]
) -> None:
    with db_app.app_context():
        file_id = store(CSV)
        with db.transaction() as session:
            session.execute(
                update(StoredFile).where(StoredFile.id == file_id).values({column: value})
            )
        with pytest.raises(error, match=f"stored file {file_id}"):
            read_file(db.session, file_id)


def test_read_file_blob_moved_from_another_row_raises(db_app: Flask) -> None:
    with db_app.app_context():
        first, second = store(CSV), store(b"another file")
        source = db.session.get(StoredFile, first)
        assert source is not None
        moved = {
            "key_id": source.key_id,
            "wrapped_key": source.wrapped_key,
            "nonce": source.nonce,
            "ciphertext": source.ciphertext,
            "size": source.size,
            "sha256": source.sha256,
        }
        with db.transaction() as session:
            session.execute(update(StoredFile).where(StoredFile.id == second).values(moved))
        with pytest.raises(TamperError, match=f"stored file {second}"):
            read_file(db.session, second)
        assert read_file(db.session, first) == CSV


def test_read_file_flipped_ciphertext_raises(db_app: Flask) -> None:
    with db_app.app_context():
        file_id = store(CSV)
        row = db.session.get(StoredFile, file_id)
        assert row is not None
        flipped = bytes([row.ciphertext[0] ^ 1]) + row.ciphertext[1:]
        with db.transaction() as session:
            session.execute(
                update(StoredFile).where(StoredFile.id == file_id).values(ciphertext=flipped)
            )
        with pytest.raises(TamperError, match="failed authentication"):
            read_file(db.session, file_id)


def test_read_file_unknown_id_raises(db_app: Flask) -> None:
    with db_app.app_context(), pytest.raises(StoredFileNotFound):
        read_file(db.session, 404)


@pytest.mark.parametrize(
    ("purpose", "filename", "message"),
    [
        ("Submission Raw", "a.csv", "purpose"),
        ("raw", "", "filename"),
        ("raw", "x" * 256, "filename"),
    ],
)
def test_store_file_invalid_arguments_raise(
    db_app: Flask, purpose: str, filename: str, message: str
) -> None:
    with db_app.app_context(), pytest.raises(ValueError, match=message):
        store(CSV, purpose=purpose, name=filename)
