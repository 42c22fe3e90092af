"""Envelope encryption (exchange.security.crypto) and the master keyring's configuration."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from exchange.config import load_config, parse_master_keys, update_master_keys_file
from exchange.security import crypto
from exchange.security.crypto import (
    Envelope,
    Keyring,
    TamperError,
    UnknownKeyError,
    decrypt,
    encrypt,
    generate_key,
    rewrap,
)

CONTEXT = b"stored_file:7:submission_raw"
K1, K2 = bytes(range(32)), bytes(range(100, 132))


@pytest.fixture
def keyring() -> Keyring:
    return Keyring({"k1": K1, "k2": K2}, "k1")


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.mark.parametrize(
    "plaintext",
    [b"", b"a", bytes(range(256)) * 3, os.urandom(5 * 1024 * 1024)],
    ids=["empty", "one-byte", "all-byte-values", "5MB"],
)
def test_encrypt_round_trip_exact_bytes(keyring: Keyring, plaintext: bytes) -> None:
    envelope = encrypt(keyring, plaintext, CONTEXT)
    assert envelope.key_id == "k1"
    assert len(envelope.ciphertext) == len(plaintext) + 16  # GCM tag, no padding
    assert decrypt(keyring, envelope, CONTEXT) == plaintext


def test_encrypt_fresh_data_key_and_nonces_per_file(keyring: Keyring) -> None:
    first, second = (encrypt(keyring, b"same bytes", CONTEXT) for _ in range(2))
    assert first.ciphertext != second.ciphertext
    assert first.nonce != second.nonce
    assert first.wrapped_key != second.wrapped_key
    key_1 = crypto._unwrap(keyring, "k1", first.wrapped_key, CONTEXT)
    key_2 = crypto._unwrap(keyring, "k1", second.wrapped_key, CONTEXT)
    assert len(key_1) == len(key_2) == 32
    assert key_1 != key_2
    assert K1 not in (key_1, key_2)  # the master key itself never encrypts a file


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrapped_key"])
@pytest.mark.parametrize("position", [0, -1])
def test_decrypt_tampered_field_raises(keyring: Keyring, field: str, position: int) -> None:
    envelope = encrypt(keyring, b"time_period,value\n2025,10\n", CONTEXT)
    value = getattr(envelope, field)
    tampered = replace(envelope, **{field: flip(value, position % len(value))})
    with pytest.raises(TamperError, match="failed authentication"):
        decrypt(keyring, tampered, CONTEXT)


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrapped_key"])
def test_decrypt_truncated_field_raises(keyring: Keyring, field: str) -> None:
    envelope = encrypt(keyring, b"some bytes", CONTEXT)
    with pytest.raises(TamperError):
        decrypt(keyring, replace(envelope, **{field: getattr(envelope, field)[:-1]}), CONTEXT)


def test_decrypt_other_associated_data_raises(keyring: Keyring) -> None:
    envelope = encrypt(keyring, b"some bytes", CONTEXT)
    for other in (b"stored_file:8:submission_raw", b"stored_file:7:other", b""):
        with pytest.raises(TamperError):
            decrypt(keyring, envelope, other)


def test_decrypt_wrapped_key_swapped_between_files_raises(keyring: Keyring) -> None:
    # Moving one file's wrapped data key to another file (same master key, same context)
    # unwraps to the wrong data key: the file's tag then fails.
    one, two = encrypt(keyring, b"one", CONTEXT), encrypt(keyring, b"two", CONTEXT)
    with pytest.raises(TamperError):
        decrypt(keyring, replace(one, wrapped_key=two.wrapped_key), CONTEXT)


def test_decrypt_wrapped_key_relabelled_to_other_key_id_raises(keyring: Keyring) -> None:
    envelope = encrypt(keyring, b"bytes", CONTEXT)
    with pytest.raises(TamperError, match="'k2'"):
        decrypt(keyring, replace(envelope, key_id="k2"), CONTEXT)


def test_decrypt_unknown_key_id_raises_clear_error(keyring: Keyring) -> None:
    envelope = encrypt(keyring, b"bytes", CONTEXT)
    only_k2 = Keyring({"k2": K2}, "k2")
    with pytest.raises(UnknownKeyError, match=r"master key 'k1' is not in the keyring .*k2"):
        decrypt(only_k2, envelope, CONTEXT)


def test_rewrap_moves_data_key_and_keeps_ciphertext(keyring: Keyring) -> None:
    envelope = encrypt(keyring, b"payload", CONTEXT)
    key_id, wrapped = rewrap(keyring, envelope.key_id, envelope.wrapped_key, CONTEXT, "k2")
    assert key_id == "k2"
    moved = Envelope(key_id, wrapped, envelope.nonce, envelope.ciphertext)
    assert decrypt(Keyring({"k2": K2}, "k2"), moved, CONTEXT) == b"payload"
    with pytest.raises(UnknownKeyError):  # the old key can go: nothing needs it any more
        decrypt(Keyring({"k1": K1}, "k1"), moved, CONTEXT)


def test_keyring_repr_hides_key_material(keyring: Keyring) -> None:
    text = repr(keyring) + repr(encrypt(keyring, b"x", CONTEXT))
    assert "k1" in text
    for key in (K1, K2):
        assert repr(key) not in text
        assert b64(key) not in text
        assert key.hex() not in text


@pytest.mark.parametrize(
    ("keys", "active", "message"),
    [
        ({"k1": K1}, "k2", "active master key id 'k2' is not in the keyring"),
        ({"k1": K1[:16]}, "k1", "must be 32 bytes"),
        ({"bad:id": K1}, "bad:id", "invalid master key id"),
        ({"": K1}, "", "invalid master key id"),
    ],
)
def test_keyring_invalid_raises(keys: dict[str, bytes], active: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Keyring(keys, active)


def test_keyring_with_and_without_keys(keyring: Keyring) -> None:
    key = generate_key()
    grown = keyring.with_key("k3", key)
    assert grown.active_id == "k3"
    assert grown.ids == ["k1", "k2", "k3"]
    assert keyring.ids == ["k1", "k2"]  # immutable
    with pytest.raises(ValueError, match="different key"):
        grown.with_key("k3", generate_key())
    with pytest.raises(ValueError, match="active key"):
        grown.without("k3")
    assert grown.without("k1").ids == ["k2", "k3"]


def test_new_key_id_is_valid_and_unique() -> None:
    ids = {crypto.new_key_id() for _ in range(20)}
    assert len(ids) == 20
    assert all(crypto.check_key_id(key_id) for key_id in ids)


# Configuration (exchange.config parses the keyring; nothing else reads the environment).


def env_for(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"EXCHANGE_INSTANCE_PATH": str(tmp_path / "instance"), **values}


def test_parse_master_keys_env_format() -> None:
    urlsafe = base64.urlsafe_b64encode(K2).decode()
    assert parse_master_keys(f" k1:{b64(K1)} ,\n k2:{urlsafe},") == {"k1": K1, "k2": K2}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "holds no key"),
        ("k1", "entry 1 is not of the form"),
        (f"k1:{b64(K1)},k1:{b64(K2)}", "appears twice"),
        ("k1:not*base64", "'k1' is not valid base64"),
    ],
)
def test_parse_master_keys_invalid_raises(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_master_keys(spec)


def test_load_config_keys_from_env(tmp_path: Path) -> None:
    config = load_config(
        env=env_for(
            tmp_path,
            EXCHANGE_MASTER_KEYS=f"k1:{b64(K1)},k2:{b64(K2)}",
            EXCHANGE_ACTIVE_KEY_ID="k2",
        )
    )
    assert config.master_keys == {"k1": K1, "k2": K2}
    assert config.active_key_id == "k2"
    assert config.master_keys_source == "env"
    assert config.keyring().active_id == "k2"
    assert not (tmp_path / "instance" / "master-keys.json").exists()  # nothing beside the data
    assert b64(K1) not in repr(config)
    assert repr(K1) not in repr(config)


def test_load_config_single_env_key_is_active(tmp_path: Path) -> None:
    config = load_config(env=env_for(tmp_path, EXCHANGE_MASTER_KEYS=f"only:{b64(K1)}"))
    assert config.active_key_id == "only"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"EXCHANGE_MASTER_KEYS": f"k1:{b64(K1)},k2:{b64(K2)}"}, "must name the key"),
        (
            {"EXCHANGE_MASTER_KEYS": f"k1:{b64(K1)}", "EXCHANGE_ACTIVE_KEY_ID": "k9"},
            "'k9' is not in the keyring",
        ),
        ({"EXCHANGE_MASTER_KEYS": ""}, "holds no key"),  # a secret that failed to load
        ({"EXCHANGE_ACTIVE_KEY_ID": "k1"}, "without EXCHANGE_MASTER_KEYS"),
        (
            {"EXCHANGE_MASTER_KEYS": f"k1:{b64(K1)}", "EXCHANGE_MASTER_KEYS_FILE": "/x.json"},
            "not both",
        ),
        ({"EXCHANGE_MASTER_KEYS_FILE": "/nonexistent/keys.json"}, "does not exist"),
    ],
)
def test_load_config_invalid_keys_raise(
    tmp_path: Path, values: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        load_config(env=env_for(tmp_path, **values))
    assert b64(K1) not in str(raised.value)
    assert not (tmp_path / "instance" / "master-keys.json").exists()


def test_load_config_keys_from_file_reread_on_use(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"active": "k1", "keys": {"k1": b64(K1)}}))
    config = load_config(env=env_for(tmp_path, EXCHANGE_MASTER_KEYS_FILE=str(path)))
    assert config.master_keys_source == "file"
    assert config.keyring().ids == ["k1"]
    # An updated mounted secret reaches the running process without a restart.
    path.write_text(json.dumps({"active": "k2", "keys": {"k1": b64(K1), "k2": b64(K2)}}))
    assert config.keyring().active_id == "k2"
    assert config.keyring().key("k2") == K2


@pytest.mark.parametrize(
    "document",
    ["not json", json.dumps({"keys": {}}), json.dumps({"active": "k1", "keys": ["k1"]})],
)
def test_load_config_malformed_keys_file_raises(tmp_path: Path, document: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(document)
    with pytest.raises(ValueError, match="master keys file"):
        load_config(env=env_for(tmp_path, EXCHANGE_MASTER_KEYS_FILE=str(path)))


def test_load_config_embedded_default_generates_private_file_once(tmp_path: Path) -> None:
    config = load_config(env=env_for(tmp_path))
    path = tmp_path / "instance" / "master-keys.json"
    assert config.master_keys_source == "embedded"
    assert config.master_keys_path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["active"] == config.active_key_id
    assert (
        base64.b64decode(document["keys"][config.active_key_id])
        == config.master_keys[config.active_key_id]
    )
    assert len(config.master_keys[config.active_key_id]) == 32
    again = load_config(env=env_for(tmp_path))  # a second start reuses the same key
    assert again.master_keys == config.master_keys
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_update_master_keys_file_atomic_and_private(tmp_path: Path) -> None:
    config = load_config(env=env_for(tmp_path))
    path = config.master_keys_path
    assert path is not None
    updated = update_master_keys_file(path, lambda ring: ring.with_key("k2", K2))
    assert updated.active_id == "k2"
    assert config.keyring().ids == sorted([config.active_key_id, "k2"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="active key"):
        update_master_keys_file(path, lambda ring: ring.without("k2"))
    assert config.keyring().active_id == "k2"  # a failed change leaves the file as it was


def test_create_app_warns_about_embedded_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from exchange.app import create_app

    with caplog.at_level(logging.WARNING):
        config = load_config(env=env_for(tmp_path))
        assert not caplog.records  # loading the config (or importing) does not warn
        create_app(config)
    warnings = [r for r in caplog.records if "beside the data" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    key = config.master_keys[config.active_key_id]
    assert b64(key) not in caplog.text


def test_create_app_no_warning_with_configured_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from exchange.app import create_app

    config = load_config(env=env_for(tmp_path, EXCHANGE_MASTER_KEYS=f"k1:{b64(K1)}"))
    with caplog.at_level(logging.WARNING):
        create_app(config)
    assert "beside the data" not in caplog.text
