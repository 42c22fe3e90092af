"""Time-based one-time passwords (RFC 6238) and recovery codes: the second sign-in factor.

Pure functions over secrets and codes; the writes (enrolment, a code accepted, recovery codes
replaced) are in :mod:`exchange.actions.accounts`.

* TOTP: 30-second steps, 6 digits, SHA-1 (what every authenticator app supports). A code from
  the step before or after the current one is accepted (clock drift), but never a step at or
  before the last one accepted for the user, so an observed code cannot be replayed.
* The TOTP secret is stored sealed (:mod:`exchange.security.secrets_box`), never in clear.
* Recovery codes: 10 random codes of 10 characters (about 50 bits each), shown once and stored
  only as argon2id hashes; each works once.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from hmac import compare_digest

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import secrets_box

__all__ = [
    "DIGITS",
    "INTERVAL",
    "ISSUER",
    "RECOVERY_CODE_COUNT",
    "VALID_WINDOW",
    "format_secret",
    "generate_recovery_codes",
    "hash_recovery_code",
    "is_totp_code",
    "matching_step",
    "new_totp_secret",
    "normalise_code",
    "open_totp_secret",
    "provisioning_uri",
    "qr_svg",
    "seal_totp_secret",
    "verify_recovery_code",
]

ISSUER = "CSC benchmarking exchange"  # the account's label in authenticator apps
INTERVAL = 30
DIGITS = 6
VALID_WINDOW = 1  # steps either side of now
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: codes are read off paper and typed by people.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 10

# Recovery codes are random (about 50 bits), so unlike passwords they need no heavy hashing to
# resist guessing: OWASP's minimum argon2id configuration keeps checking ten of them quick.
_recovery_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def new_totp_secret() -> str:
    """A fresh random TOTP secret: 32 base32 characters (160 bits, RFC 4226's recommendation)."""
    return pyotp.random_base32(length=32)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return _totp(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as inline SVG markup (no script, no style attributes: CSP-safe)."""
    qr = segno.make(uri, error="m")
    return qr.svg_inline(scale=5, border=4, dark="#0b0c0c", light="#ffffff", title="QR code")


def format_secret(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def normalise_code(code: str) -> str:
    """A code as typed, without spaces or hyphens, in lower case."""
    return re.sub(r"[\s-]", "", code or "").lower()


def is_totp_code(code: str) -> bool:
    return bool(re.fullmatch(rf"\d{{{DIGITS}}}", normalise_code(code)))


def matching_step(secret: str, code: str, at: datetime, last_step: int | None) -> int | None:
    """The time step whose code ``code`` is, within the window around ``at``; None if none.

    Steps at or before ``last_step`` (the last one accepted for the user) never match: a code,
    once used, cannot be used again, nor can an older one.
    """
    code = normalise_code(code)
    if not is_totp_code(code):
        return None
    totp = _totp(secret)
    now_step = totp.timecode(at)
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if compare_digest(totp.generate_otp(step), code):
            return step
    return None


def seal_totp_secret(secret: str) -> bytes:
    return secrets_box.seal(secret.encode("ascii"))


def open_totp_secret(sealed: bytes) -> str:
    return secrets_box.open_sealed(sealed).decode("ascii")


def generate_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Fresh recovery codes, formatted ``xxxxx-xxxxx`` (the hyphen is optional when typed)."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def hash_recovery_code(code: str) -> str:
    return _recovery_hasher.hash(normalise_code(code))


def verify_recovery_code(code_hash: str, code: str) -> bool:
    try:
        return _recovery_hasher.verify(code_hash, normalise_code(code))
    except (VerificationError, InvalidHashError):
        return False
