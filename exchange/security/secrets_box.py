"""Sealing small secrets (TOTP secrets, an enrolment in progress) with AES-256-GCM.

For small secrets only, up to a few kilobytes: raw uploaded files use the envelope encryption of
:mod:`exchange.security.crypto`. The key is derived with HKDF-SHA256 from the app's
``SECRET_KEY``, so changing ``EXCHANGE_SECRET_KEY`` makes every sealed secret unreadable (each
user would then need their MFA reset). Every seal draws a fresh random 96-bit nonce; GCM's tag
makes any change to a token fail to open rather than decrypt to something else.

A token is ``version (1 byte) || nonce (12 bytes) || ciphertext and tag``. This is the only
module that knows the format: moving these secrets under the master keyring later changes this
module, not its callers.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

__all__ = ["MAX_PLAINTEXT_BYTES", "SealedSecretError", "open_sealed", "seal"]

MAX_PLAINTEXT_BYTES = 4096
_VERSION = b"\x01"
_NONCE_BYTES = 12
# HKDF's "info": a key derived for this purpose is useless for any other use of SECRET_KEY.
_INFO = b"exchange/secrets-box/v1"


class SealedSecretError(Exception):
    """A token could not be opened: altered, truncated, or sealed under another SECRET_KEY."""


def _aead() -> AESGCM:
    secret_key = current_app.config["SECRET_KEY"]
    material = secret_key.encode() if isinstance(secret_key, str) else bytes(secret_key)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material)
    return AESGCM(key)


def seal(plaintext: bytes) -> bytes:
    """Encrypt and authenticate a small secret (needs an app context, for ``SECRET_KEY``)."""
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise ValueError(f"secrets_box is for small secrets (at most {MAX_PLAINTEXT_BYTES} bytes)")
    nonce = os.urandom(_NONCE_BYTES)
    return _VERSION + nonce + _aead().encrypt(nonce, plaintext, _VERSION)


def open_sealed(token: bytes) -> bytes:
    """The plaintext of a token made by :func:`seal`; raises :class:`SealedSecretError`."""
    if len(token) < 1 + _NONCE_BYTES + 16 or token[:1] != _VERSION:
        raise SealedSecretError("not a sealed secret")
    nonce, ciphertext = token[1 : 1 + _NONCE_BYTES], token[1 + _NONCE_BYTES :]
    try:
        return _aead().decrypt(nonce, ciphertext, _VERSION)
    except InvalidTag:
        raise SealedSecretError("the sealed secret does not authenticate") from None
