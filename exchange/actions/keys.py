"""Master key rotation and retirement (``exchange keys``; the CLI only parses and prints).

Rotation re-wraps every stored file's data key under a new master key, in batches of one
transaction each; the file ciphertext is never rewritten. Readers keep working throughout
because the old and the new key are both in the keyring: a row is always a consistent
(key id, wrapped key) pair, whichever batch it is in. An interrupted rotation loses nothing;
running it again with the same key id finishes it. ``retire`` then removes the old key,
refusing while any file still uses it.

(Users' TOTP secrets are sealed by exchange.security.secrets_box under a key derived from
SECRET_KEY, not under the master keys, so rotation neither needs nor touches them.)

Where the keys live decides what the exchange can do itself:

* embedded default (instance/master-keys.json): the new key is written to the keyring file
  (atomically, under a lock) before any data key is re-wrapped under it; running processes
  re-read that file, so they read the re-wrapped files at once;
* production (EXCHANGE_MASTER_KEYS, or a mounted EXCHANGE_MASTER_KEYS_FILE): the exchange cannot
  change the secret store. ``rotate`` without a deployed key generates one and shows it to the
  operator; once every process has it, as the active key, ``rotate --new-key-id KID`` re-wraps.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange import audit
from exchange.actions.files import file_context
from exchange.config import Config, update_master_keys_file
from exchange.extensions import db
from exchange.models.stored_file import StoredFile
from exchange.security import crypto
from exchange.security.crypto import Keyring, check_key_id, generate_key, rewrap

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "KeyManagementError",
    "Retirement",
    "Rotation",
    "key_usage",
    "retire_key",
    "rotate_keys",
]

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200


class KeyManagementError(Exception):
    """A key operation was refused; the message tells the operator what to do instead."""


@dataclass(frozen=True)
class Rotation:
    key_id: str
    files_rewrapped: int = 0
    # True when the key is not yet in the (externally managed) keyring: nothing was re-wrapped
    # and the operator must install it first. ``generated_key`` is then the new key, to be
    # shown once, or None when the operator supplied it.
    needs_install: bool = False
    generated_key: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Retirement:
    key_id: str
    # False for an externally managed keyring: the operator removes the key from the store.
    removed_from_keyring_file: bool


def _config() -> Config:
    return current_app.config["EXCHANGE"]


def key_usage(session: Session) -> dict[str, int]:
    """Stored files per master key id (including ids no longer in the keyring)."""
    rows = session.execute(select(StoredFile.key_id, func.count()).group_by(StoredFile.key_id))
    return {key_id: int(count) for key_id, count in rows.all()}


def _rewrap_batch(keyring: Keyring, to_key_id: str, batch_size: int) -> int:
    """Re-wrap up to ``batch_size`` files not yet under ``to_key_id``, in one transaction."""
    with db.transaction() as session:
        # Ciphertext is deferred, so this loads ~100 bytes per file, never the files.
        # populate_existing: objects already in this session must not keep their old key id.
        rows = session.scalars(
            select(StoredFile)
            .where(StoredFile.key_id != to_key_id)
            .order_by(StoredFile.id)
            .limit(batch_size)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        for stored in rows:
            stored.key_id, stored.wrapped_key = rewrap(
                keyring,
                stored.key_id,
                stored.wrapped_key,
                file_context(stored.id, stored.purpose),
                to_key_id,
            )
        return len(rows)


def _install_embedded(config: Config, key_id: str, key: bytes) -> Keyring:
    """Add ``key_id`` (if new) to the embedded keyring file as the active key. Read, changed
    and written under the file's lock, so a concurrent rotation's key is never lost."""
    assert config.master_keys_path is not None
    return update_master_keys_file(
        config.master_keys_path, lambda keyring: keyring.with_key(key_id, key, active=True)
    )


def rotate_keys(
    *,
    actor_label: str,
    actor_user_id: int | None = None,
    new_key_id: str | None = None,
    new_key: bytes | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Rotation:
    """Make ``new_key_id`` (default: a generated id) the active master key and re-wrap every
    data key under it. Re-running with the same key id resumes an interrupted rotation.

    ``new_key`` supplies the key material (default: generated, or the keyring's key for an id
    it already holds). With an externally managed keyring, a key id it does not hold yet is
    only generated (audited "key_generated") and returned with ``needs_install``.
    """
    if new_key is not None and new_key_id is None:
        raise KeyManagementError("a supplied key needs its key id (--new-key-id)")
    if batch_size < 1:
        raise KeyManagementError("the batch size must be at least 1")
    config = _config()
    embedded = config.master_keys_source == "embedded"
    key_id = check_key_id(new_key_id) if new_key_id else crypto.new_key_id()
    keyring = config.keyring()

    if key_id in keyring:
        if new_key is not None and not secrets.compare_digest(keyring.key(key_id), new_key):
            raise KeyManagementError(f"master key id {key_id!r} already holds a different key")
        if keyring.active_id != key_id:
            if not embedded:
                raise KeyManagementError(
                    f"{key_id!r} is in the keyring but {keyring.active_id!r} is active: set "
                    f"EXCHANGE_ACTIVE_KEY_ID={key_id} on every process first, or new files "
                    "would keep using the old key"
                )
            keyring = _install_embedded(config, key_id, keyring.key(key_id))
    else:
        material = new_key if new_key is not None else generate_key()
        Keyring({key_id: material}, key_id)  # validates the length before anything is kept
        if not embedded:
            if new_key is None:
                with db.transaction() as session:
                    audit.record(
                        session,
                        "key_generated",
                        actor_label=actor_label,
                        actor_user_id=actor_user_id,
                        target_type="master_key",
                        target_id=key_id,
                        details={"source": config.master_keys_source},
                    )
            return Rotation(
                key_id, needs_install=True, generated_key=None if new_key is not None else material
            )
        # The key is on disk (and fsynced) before any data key is wrapped under it.
        keyring = _install_embedded(config, key_id, material)

    with db.transaction() as session:
        audit.record(
            session,
            "key_rotation_started",
            actor_label=actor_label,
            actor_user_id=actor_user_id,
            target_type="master_key",
            target_id=key_id,
            details={"files_by_key": key_usage(session), "batch_size": batch_size},
        )
    files = 0
    try:
        while count := _rewrap_batch(keyring, key_id, batch_size):
            files += count
    except Exception as error:
        # The failed batch rolled back; the committed ones stand and stay readable.
        try:
            with db.transaction() as session:
                audit.record(
                    session,
                    "key_rotation_failed",
                    actor_label=actor_label,
                    actor_user_id=actor_user_id,
                    target_type="master_key",
                    target_id=key_id,
                    outcome="failure",
                    details={"files_rewrapped": files, "error": type(error).__name__},
                )
        except Exception:
            logger.exception("could not record the failed rotation to %s", key_id)
        raise
    with db.transaction() as session:
        audit.record(
            session,
            "key_rotation_completed",
            actor_label=actor_label,
            actor_user_id=actor_user_id,
            target_type="master_key",
            target_id=key_id,
            details={"files_rewrapped": files, "files_by_key": key_usage(session)},
        )
    return Rotation(key_id, files_rewrapped=files)


def retire_key(key_id: str, *, actor_label: str, actor_user_id: int | None = None) -> Retirement:
    """Remove ``key_id`` from the keyring, refusing while it is active or wraps anything.

    An embedded keyring file loses the key; an external one is left to the operator (the key
    can then be deleted from the secret store). Refusals are audited too.
    """
    config = _config()
    keyring = config.keyring()
    if key_id not in keyring:
        raise KeyManagementError(f"{key_id!r} is not in the keyring ({', '.join(keyring.ids)})")
    if key_id == keyring.active_id:
        raise KeyManagementError(f"{key_id!r} is the active key: rotate to a new key first")
    embedded = config.master_keys_source == "embedded"
    with db.transaction() as session:
        in_use = key_usage(session).get(key_id, 0)
        audit.record(
            session,
            "key_retired",
            actor_label=actor_label,
            actor_user_id=actor_user_id,
            target_type="master_key",
            target_id=key_id,
            outcome="failure" if in_use else "success",
            details={"files": in_use, "source": config.master_keys_source},
        )
        if not in_use and embedded:
            assert config.master_keys_path is not None
            # Inside the transaction: if the file cannot be written, the audit event rolls
            # back with it. Keyring.without refuses if the key became active meanwhile.
            update_master_keys_file(config.master_keys_path, lambda ring: ring.without(key_id))
    if in_use:
        raise KeyManagementError(
            f"{key_id!r} still wraps the data keys of {in_use} file(s): run "
            "`exchange keys rotate` to completion first"
        )
    return Retirement(key_id, removed_from_keyring_file=embedded)
