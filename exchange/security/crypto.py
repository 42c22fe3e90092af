"""Envelope encryption of stored files with AES-256-GCM.

Each file is encrypted with its own random 256-bit data key; the data key is then encrypted
("wrapped") by a master key named by a key id. Only the small wrapped key depends on the master
key, so rotating master keys re-wraps 60 bytes per file and never touches the file ciphertext.

Wrapping uses AES-256-GCM (with its own random nonce) rather than RFC 3394 key wrap because GCM
takes associated data: the wrapped key is bound to its key id and to the caller's context (the
stored file's id), so a wrapped key relabelled with another key id, or moved to another row,
fails to unwrap instead of silently pairing with the wrong ciphertext. GCM's 128-bit tag is
also stronger than key wrap's 64-bit integrity check. Random 96-bit nonces are safe here: a
master key wraps one data key per file (plus one per rotation), far below the 2**32 messages
NIST allows per key with random nonces, and each data key encrypts exactly one file.

This module is pure: it reads no configuration. ``exchange.config`` parses master keys into a
:class:`Keyring`; key material never appears in a ``repr``, a log or an error message.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from flask import Flask

__all__ = [
    "KEY_BYTES",
    "NONCE_BYTES",
    "CryptoError",
    "Envelope",
    "Keyring",
    "TamperError",
    "UnknownKeyError",
    "check_key_id",
    "decrypt",
    "encrypt",
    "generate_key",
    "init_app",
    "new_key_id",
    "rewrap",
]

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's 96-bit nonce
TAG_BYTES = 16
WRAPPED_KEY_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES

# Key ids travel in "kid:base64,kid:base64" (EXCHANGE_MASTER_KEYS) and in associated data after a
# NUL separator, so they must hold none of ":", ",", NUL or whitespace.
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

# Domain separation: a data-key wrap and a file encryption never share associated data.
_WRAP_DOMAIN = b"exchange/wrapped-data-key/v1\x00"
_DATA_DOMAIN = b"exchange/data/v1\x00"


class CryptoError(Exception):
    """Decryption or key handling failed; the message never contains key material."""


class UnknownKeyError(CryptoError):
    """A master key id is not in the keyring."""


class TamperError(CryptoError):
    """Authentication failed: ciphertext, nonce, wrapped key or associated data were altered."""


def check_key_id(key_id: str) -> str:
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise ValueError(
            f"invalid master key id {key_id!r}: 1-64 characters, letters, digits, '_', '.' or "
            "'-', starting with a letter or digit"
        )
    return key_id


def generate_key() -> bytes:
    """A fresh random 256-bit key (from the operating system's CSPRNG)."""
    return AESGCM.generate_key(bit_length=256)


def new_key_id() -> str:
    """A new, sortable master key id such as ``k20260101T120000-3fa2c1``."""
    return f"k{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True, repr=False)
class Keyring:
    """Master keys by key id, and the id of the one that wraps new data keys.

    Older keys stay in the keyring after a rotation so files wrapped under them stay readable
    until ``exchange keys rotate`` has re-wrapped them and ``exchange keys retire`` removes them.
    """

    keys: Mapping[str, bytes]
    active_id: str

    def __post_init__(self) -> None:
        for key_id, key in self.keys.items():
            check_key_id(key_id)
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise ValueError(f"master key {key_id!r} must be {KEY_BYTES} bytes (AES-256)")
        if self.active_id not in self.keys:
            raise ValueError(
                f"the active master key id {self.active_id!r} is not in the keyring "
                f"(known ids: {', '.join(sorted(self.keys)) or 'none'})"
            )
        # Read-only, and a copy: nobody can change a keyring another thread is using.
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    def __repr__(self) -> str:  # never the key material
        return f"Keyring(ids={sorted(self.keys)!r}, active_id={self.active_id!r})"

    def __contains__(self, key_id: object) -> bool:
        return key_id in self.keys

    @property
    def ids(self) -> list[str]:
        return sorted(self.keys)

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownKeyError(
                f"master key {key_id!r} is not in the keyring (known ids: "
                f"{', '.join(self.ids)}); add it to EXCHANGE_MASTER_KEYS or the keyring file"
            ) from None

    def with_key(self, key_id: str, key: bytes, *, active: bool = True) -> Keyring:
        """This keyring plus ``key_id`` (the active one when ``active``)."""
        if key_id in self.keys and not secrets.compare_digest(self.keys[key_id], key):
            raise ValueError(f"master key id {key_id!r} already holds a different key")
        return Keyring({**self.keys, key_id: key}, key_id if active else self.active_id)

    def without(self, key_id: str) -> Keyring:
        if key_id == self.active_id:
            raise ValueError(f"master key {key_id!r} is the active key and cannot be removed")
        self.key(key_id)
        return Keyring({k: v for k, v in self.keys.items() if k != key_id}, self.active_id)


@dataclass(frozen=True, repr=False)
class Envelope:
    """What is stored for one encrypted file: none of it is secret without the master key."""

    key_id: str
    wrapped_key: bytes  # wrap nonce (12) + encrypted data key (32) + tag (16)
    nonce: bytes  # the file's nonce
    ciphertext: bytes  # the file, encrypted, with its 16-byte tag at the end

    def __repr__(self) -> str:
        return f"Envelope(key_id={self.key_id!r}, ciphertext_bytes={len(self.ciphertext)})"


def _wrap_aad(key_id: str, associated_data: bytes) -> bytes:
    # The key id is NUL-free (check_key_id), so "id NUL context" is unambiguous.
    return _WRAP_DOMAIN + key_id.encode() + b"\x00" + associated_data


def _wrap(keyring: Keyring, key_id: str, data_key: bytes, associated_data: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(keyring.key(key_id)).encrypt(
        nonce, data_key, _wrap_aad(key_id, associated_data)
    )
    return nonce + sealed


def _unwrap(keyring: Keyring, key_id: str, wrapped: bytes, associated_data: bytes) -> bytes:
    master = keyring.key(key_id)
    if len(wrapped) != WRAPPED_KEY_BYTES:
        raise TamperError(f"the wrapped data key is {len(wrapped)} bytes, not {WRAPPED_KEY_BYTES}")
    try:
        return AESGCM(master).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(key_id, associated_data)
        )
    except InvalidTag:
        raise TamperError(
            f"the data key wrapped under master key {key_id!r} failed authentication: the "
            "wrapped key, its key id or the file it belongs to was altered"
        ) from None


def encrypt(keyring: Keyring, plaintext: bytes, associated_data: bytes) -> Envelope:
    """Encrypt ``plaintext`` under a fresh data key wrapped by the keyring's active key.

    ``associated_data`` (not secret, not stored here) binds the envelope to its place, e.g. the
    stored file's id and purpose; :func:`decrypt` must be given the same bytes.
    """
    data_key = generate_key()
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, _DATA_DOMAIN + associated_data)
    wrapped = _wrap(keyring, keyring.active_id, data_key, associated_data)
    return Envelope(keyring.active_id, wrapped, nonce, ciphertext)


def decrypt(keyring: Keyring, envelope: Envelope, associated_data: bytes) -> bytes:
    """The plaintext, or :class:`UnknownKeyError` / :class:`TamperError`."""
    data_key = _unwrap(keyring, envelope.key_id, envelope.wrapped_key, associated_data)
    if len(envelope.nonce) != NONCE_BYTES:
        raise TamperError(f"the file nonce is {len(envelope.nonce)} bytes, not {NONCE_BYTES}")
    try:
        return AESGCM(data_key).decrypt(
            envelope.nonce, envelope.ciphertext, _DATA_DOMAIN + associated_data
        )
    except InvalidTag:
        raise TamperError(
            "the file failed authentication: its ciphertext, nonce or associated data "
            "(id, purpose) was altered"
        ) from None


def rewrap(
    keyring: Keyring,
    key_id: str,
    wrapped_key: bytes,
    associated_data: bytes,
    to_key_id: str | None = None,
) -> tuple[str, bytes]:
    """Re-wrap one data key under ``to_key_id`` (default: the active key).

    Returns ``(to_key_id, new_wrapped_key)``. The new wrap is unwrapped again and compared before
    it is returned, so a rotation can never store a data key it could not recover.
    """
    target = to_key_id or keyring.active_id
    data_key = _unwrap(keyring, key_id, wrapped_key, associated_data)
    new_wrapped = _wrap(keyring, target, data_key, associated_data)
    if not secrets.compare_digest(_unwrap(keyring, target, new_wrapped, associated_data), data_key):
        raise CryptoError("re-wrapped data key did not round-trip")  # pragma: no cover
    return target, new_wrapped


def init_app(app: Flask) -> None:
    """At app start: warn when master keys live beside the data (the embedded default)."""
    config = app.config["EXCHANGE"]
    if config.master_keys_source == "embedded":
        app.logger.warning(
            "Master encryption keys are in %s, beside the data they protect. That is fine for "
            "a trial, not for production: set EXCHANGE_MASTER_KEYS and EXCHANGE_ACTIVE_KEY_ID "
            "(or EXCHANGE_MASTER_KEYS_FILE) from a secret store.",
            config.master_keys_path,
        )
