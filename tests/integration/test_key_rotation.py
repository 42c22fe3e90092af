"""Master key rotation on a real database: every file stays readable, byte for byte, before,
during and after a rotation; the old key can then be retired; an interrupted rotation loses
nothing and finishes when run again. Embedded keyring (db_app) and keys from the environment.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from exchange.actions import keys as key_actions
from exchange.actions.files import read_file, store_file
from exchange.actions.keys import KeyManagementError, key_usage, retire_key, rotate_keys
from exchange.app import create_app
from exchange.audit import verify
from exchange.cli import main
from exchange.config import load_config
from exchange.extensions import db
from exchange.models import AuditEvent, StoredFile
from exchange.security.crypto import generate_key

pytestmark = pytest.mark.integration

ACTOR = "tester"


def payloads(count: int = 20) -> list[bytes]:
    # Sizes from empty to ~300 kB, each one distinct.
    return [os.urandom(i * 15_000 + i) for i in range(count)]


def store_all(app: Flask, files: list[bytes]) -> dict[int, bytes]:
    with app.app_context(), db.transaction() as session:
        stored = {
            store_file(
                session,
                data,
                filename=f"file-{i}.csv",
                media_type="text/csv",
                purpose="submission_raw",
                actor_label=ACTOR,
            ).id: data
            for i, data in enumerate(files)
        }
    return stored


def assert_all_readable(app: Flask, stored: dict[int, bytes]) -> None:
    with app.app_context():  # a fresh app context: a fresh session and the keyring as it is now
        for file_id, data in stored.items():
            assert read_file(db.session, file_id) == data


def usage(app: Flask) -> dict[str, int]:
    with app.app_context():
        return key_usage(db.session)


def actions(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        return [(e.action, e.outcome) for e in events if "key" in e.action]


def keyring_file(app: Flask) -> dict[str, object]:
    path = app.config["EXCHANGE"].master_keys_path
    return json.loads(Path(path).read_text())


def test_rotate_keys_all_files_readable_and_old_key_retired(db_app: Flask) -> None:
    old = db_app.config["EXCHANGE"].active_key_id
    stored = store_all(db_app, payloads())
    assert usage(db_app) == {old: 20}

    with db_app.app_context():
        rotation = rotate_keys(actor_label=ACTOR, batch_size=6)
    new = rotation.key_id
    assert new != old
    assert rotation.files_rewrapped == 20
    assert keyring_file(db_app)["active"] == new
    assert usage(db_app) == {new: 20}
    assert_all_readable(db_app, stored)

    with db_app.app_context():
        retirement = retire_key(old, actor_label=ACTOR)
    assert retirement.removed_from_keyring_file
    assert list(keyring_file(db_app)["keys"]) == [new]  # type: ignore[call-overload]
    assert_all_readable(db_app, stored)
    assert actions(db_app) == [
        ("key_rotation_started", "success"),
        ("key_rotation_completed", "success"),
        ("key_retired", "success"),
    ]
    with db_app.app_context():
        completed = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "key_rotation_completed")
        ).one()
        assert completed.details["files_rewrapped"] == 20
        assert completed.target_id == new
        assert verify(db.session)[1] is None


def test_rotate_keys_leaves_file_ciphertext_unchanged(db_app: Flask) -> None:
    stored = store_all(db_app, payloads(3))

    def snapshot() -> dict[int, tuple[bytes, bytes, bytes]]:
        with db_app.app_context():
            rows = db.session.scalars(select(StoredFile)).all()
            return {r.id: (r.ciphertext, r.nonce, r.wrapped_key) for r in rows}

    before = snapshot()
    with db_app.app_context():
        rotate_keys(actor_label=ACTOR)
    after = snapshot()
    for file_id in stored:
        assert after[file_id][:2] == before[file_id][:2]  # ciphertext and nonce as they were
        assert after[file_id][2] != before[file_id][2]  # only the wrapped data key changed


def test_retire_key_refused_while_in_use(db_app: Flask) -> None:
    old = db_app.config["EXCHANGE"].active_key_id
    stored = store_all(db_app, payloads(3))
    with db_app.app_context():
        with pytest.raises(KeyManagementError, match="is the active key"):
            retire_key(old, actor_label=ACTOR)
        # A new key made active in the keyring file, but no file re-wrapped yet: still in use.
        interrupted = key_actions._install_embedded(
            db_app.config["EXCHANGE"], "k-next", generate_key()
        )
        assert interrupted.active_id == "k-next"
        with pytest.raises(KeyManagementError, match="still wraps the data keys of 3 file"):
            retire_key(old, actor_label=ACTOR)
        with pytest.raises(KeyManagementError, match="not in the keyring"):
            retire_key("k-unknown", actor_label=ACTOR)
    assert old in keyring_file(db_app)["keys"]  # type: ignore[operator]
    assert_all_readable(db_app, stored)
    assert actions(db_app) == [("key_retired", "failure")]


def test_rotate_keys_interrupted_between_batches_then_resumed(
    db_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = db_app.config["EXCHANGE"].active_key_id
    stored = store_all(db_app, payloads())
    real_batch = key_actions._rewrap_batch
    batches: list[int] = []

    def batch_then_crash(*args: object) -> int:
        if batches:
            raise ConnectionError("simulated crash between batches")
        batches.append(real_batch(*args))  # type: ignore[arg-type]
        # Readers keep working mid-rotation, with files under both keys.
        assert_all_readable(db_app, stored)
        return batches[-1]

    monkeypatch.setattr(key_actions, "_rewrap_batch", batch_then_crash)
    with db_app.app_context(), pytest.raises(ConnectionError, match="simulated crash"):
        rotate_keys(actor_label=ACTOR, new_key_id="k-new", batch_size=5)
    assert batches == [5]
    assert usage(db_app) == {"k-new": 5, old: 15}
    assert_all_readable(db_app, stored)
    with db_app.app_context(), pytest.raises(KeyManagementError, match="15 file"):
        retire_key(old, actor_label=ACTOR)

    monkeypatch.setattr(key_actions, "_rewrap_batch", real_batch)
    with db_app.app_context():
        rotation = rotate_keys(actor_label=ACTOR, new_key_id="k-new", batch_size=5)
    assert rotation.files_rewrapped == 15
    assert usage(db_app) == {"k-new": 20}
    with db_app.app_context():
        retire_key(old, actor_label=ACTOR)
    assert_all_readable(db_app, stored)
    assert actions(db_app) == [
        ("key_rotation_started", "success"),
        ("key_rotation_failed", "failure"),
        ("key_retired", "failure"),
        ("key_rotation_started", "success"),
        ("key_rotation_completed", "success"),
        ("key_retired", "success"),
    ]


def test_rotate_keys_supplied_key_and_conflicting_key_refused(db_app: Flask) -> None:
    stored = store_all(db_app, payloads(2))
    key = generate_key()
    with db_app.app_context():
        rotate_keys(actor_label=ACTOR, new_key_id="k-supplied", new_key=key)
        with pytest.raises(KeyManagementError, match="different key"):
            rotate_keys(actor_label=ACTOR, new_key_id="k-supplied", new_key=generate_key())
        with pytest.raises(KeyManagementError, match="needs its key id"):
            rotate_keys(actor_label=ACTOR, new_key=key)
    assert base64.b64decode(keyring_file(db_app)["keys"]["k-supplied"]) == key  # type: ignore[index]
    assert_all_readable(db_app, stored)


def test_keys_cli_status_rotate_retire(db_app: Flask) -> None:
    old = db_app.config["EXCHANGE"].active_key_id
    store_all(db_app, payloads(4))
    runner = db_app.test_cli_runner()

    status = runner.invoke(main, ["keys", "status"])
    assert status.exit_code == 0, status.output
    assert f"{old}  active  4 file(s)" in status.output

    refused = runner.invoke(main, ["keys", "retire", old])
    assert refused.exit_code == 1
    assert "active key" in refused.output

    rotated = runner.invoke(main, ["keys", "rotate", "--new-key-id", "k-cli", "--batch-size", "3"])
    assert rotated.exit_code == 0, rotated.output
    assert "rotated to master key k-cli: 4 file(s) re-wrapped" in rotated.output

    retired = runner.invoke(main, ["keys", "retire", old])
    assert retired.exit_code == 0, retired.output
    status = runner.invoke(main, ["keys", "status"])
    assert "k-cli  active  4 file(s)" in status.output
    assert old not in status.output
    # No key material on the terminal when the exchange manages the keyring itself.
    for key in keyring_file(db_app)["keys"].values():  # type: ignore[attr-defined]
        assert key not in rotated.output + status.output


EnvApp = Callable[[dict[str, bytes], str], Flask]


@pytest.fixture
def env_app(db_app: Flask, database_url: str, tmp_path: Path) -> Iterator[EnvApp]:
    """Apps on db_app's database with keys from EXCHANGE_MASTER_KEYS / EXCHANGE_ACTIVE_KEY_ID,
    one per "deploy"; their pooled connections are closed at the end."""
    made: list[Flask] = []

    def make(keys: dict[str, bytes], active: str) -> Flask:
        spec = ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in keys.items())
        env = {
            "EXCHANGE_INSTANCE_PATH": str(tmp_path / "instance"),
            "EXCHANGE_DATABASE_URL": database_url,
            "EXCHANGE_MASTER_KEYS": spec,
            "EXCHANGE_ACTIVE_KEY_ID": active,
        }
        made.append(create_app(load_config(env=env, testing=True)))
        return made[-1]

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


def test_rotate_keys_from_environment_in_deploy_steps(env_app: EnvApp) -> None:
    k1, k2 = generate_key(), generate_key()
    app = env_app({"k1": k1}, "k1")  # tables made by db_app
    stored = store_all(app, payloads(5))

    # The exchange cannot edit the secret store: it generates the key and stops.
    runner = app.test_cli_runner()
    shown = runner.invoke(main, ["keys", "rotate", "--new-key-id", "k2"])
    assert shown.exit_code == 0, shown.output
    printed = next(
        line.strip() for line in shown.output.splitlines() if line.strip().startswith("k2:")
    )
    assert len(base64.b64decode(printed.removeprefix("k2:"))) == 32
    assert "EXCHANGE_ACTIVE_KEY_ID=k2" in shown.output
    assert usage(app) == {"k1": 5}

    # Step 1 deployed (both keys, old one active): re-wrapping now is refused.
    app = env_app({"k1": k1, "k2": k2}, "k1")
    with app.app_context(), pytest.raises(KeyManagementError, match="EXCHANGE_ACTIVE_KEY_ID=k2"):
        rotate_keys(actor_label=ACTOR, new_key_id="k2")
    assert_all_readable(app, stored)

    # Step 2 deployed (k2 active): new files use k2, and the rotation re-wraps the rest.
    app = env_app({"k1": k1, "k2": k2}, "k2")
    stored |= store_all(app, payloads(2))
    assert usage(app) == {"k1": 5, "k2": 2}
    with app.app_context():
        rotation = rotate_keys(actor_label=ACTOR, new_key_id="k2")
        assert rotation.files_rewrapped == 5
        retirement = retire_key("k1", actor_label=ACTOR)
    assert not retirement.removed_from_keyring_file  # the operator removes it from the store
    assert usage(app) == {"k2": 7}

    # Step 4 deployed (k1 gone): everything still reads.
    assert_all_readable(env_app({"k2": k2}, "k2"), stored)
    assert ("key_generated", "success") in actions(app)
