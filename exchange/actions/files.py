"""Files encrypted at rest: storing raw uploads and reading them back.

Envelope encryption (exchange.security.crypto): a fresh data key per file, wrapped by the
active master key. The ciphertext and the wrapped key are bound to the row's id and purpose
(associated data), so neither can be moved to another row, or re-labelled, undetected.

Both functions work inside the caller's transaction and never commit: a submission's file,
its rows and its audit events land together or not at all. ``store_file`` records
"file_stored"; ``read_file`` records nothing, because only the caller knows who is reading and
why: a caller that hands the bytes to a person must record "file_downloaded" itself
(``exchange.audit.record``, target_type="stored_file", target_id=the file id).
"""

from __future__ import annotations

import hashlib
import logging
import re

from flask import current_app
from sqlalchemy.orm import Session

from exchange import audit
from exchange.models.stored_file import StoredFile
from exchange.security.crypto import CryptoError, Envelope, Keyring, TamperError, decrypt, encrypt

__all__ = ["StoredFileNotFound", "file_context", "read_file", "store_file"]

logger = logging.getLogger(__name__)

_PURPOSE = re.compile(r"[a-z][a-z0-9_]{0,63}")


class StoredFileNotFound(LookupError):
    """No stored file has this id."""


def file_context(file_id: int, purpose: str) -> bytes:
    """The associated data binding a file's ciphertext and wrapped key to its row."""
    return f"stored_file:{file_id}:{purpose}".encode()


def _keyring() -> Keyring:
    return current_app.config["EXCHANGE"].keyring()


def store_file(
    session: Session,
    data: bytes,
    *,
    filename: str,
    media_type: str,
    purpose: str,
    actor_label: str,
    actor_user_id: int | None = None,
    organisation_id: int | None = None,
    keyring: Keyring | None = None,
) -> StoredFile:
    """Encrypt ``data`` and add it, with a "file_stored" audit event, to ``session``'s
    transaction (flushed, so ``.id`` is set; the caller commits). ``purpose`` names what the
    file is for in lower_snake_case, e.g. "submission_raw"; ``keyring`` defaults to the app's.
    """
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(f"purpose must be lower_snake_case, at most 64 characters: {purpose!r}")
    if not filename or len(filename) > 255:
        raise ValueError("filename must be 1 to 255 characters")
    keyring = keyring or _keyring()
    stored = StoredFile(
        purpose=purpose,
        filename=filename,
        media_type=media_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        # Placeholders until the row has the id the associated data needs; both statements
        # are in the caller's transaction, so nobody ever sees them.
        key_id=keyring.active_id,
        wrapped_key=b"",
        nonce=b"",
        ciphertext=b"",
    )
    session.add(stored)
    session.flush()
    envelope = encrypt(keyring, data, file_context(stored.id, purpose))
    stored.key_id = envelope.key_id
    stored.wrapped_key = envelope.wrapped_key
    stored.nonce = envelope.nonce
    stored.ciphertext = envelope.ciphertext
    audit.record(
        session,
        "file_stored",
        actor_label=actor_label,
        actor_user_id=actor_user_id,
        organisation_id=organisation_id,
        target_type="stored_file",
        target_id=stored.id,
        details={
            "purpose": purpose,
            "media_type": media_type,
            "size": stored.size,
            "key_id": stored.key_id,
        },
    )
    session.flush()
    return stored


def read_file(session: Session, file_id: int, *, keyring: Keyring | None = None) -> bytes:
    """The exact bytes stored as ``file_id``, decrypted and checked against the recorded size
    and SHA-256.

    Raises :class:`StoredFileNotFound`, ``crypto.UnknownKeyError`` (its master key is not in
    the keyring) or ``crypto.TamperError`` (anything in the row was altered). Does not audit:
    see the module docstring.
    """
    # populate_existing: a long-lived session must see a key rotation committed meanwhile.
    stored = session.get(StoredFile, file_id, populate_existing=True)
    if stored is None:
        raise StoredFileNotFound(f"no stored file has id {file_id}")
    keyring = keyring or _keyring()
    envelope = Envelope(stored.key_id, stored.wrapped_key, stored.nonce, stored.ciphertext)
    try:
        data = decrypt(keyring, envelope, file_context(stored.id, stored.purpose))
        if len(data) != stored.size or hashlib.sha256(data).hexdigest() != stored.sha256:
            raise TamperError(
                "the decrypted bytes do not match the recorded size and SHA-256 (the row's "
                "metadata was altered)"
            )
    except CryptoError as error:
        logger.error("stored file %s could not be decrypted: %s", file_id, error)
        raise type(error)(f"stored file {file_id}: {error}") from None
    return data
