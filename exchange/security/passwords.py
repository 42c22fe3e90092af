"""Password hashing (argon2id) and the password policy.

Hashes use argon2-cffi's default parameters, RFC 9106's "low memory" recommendation (argon2id,
3 passes over 64 MiB, 4 lanes). When those parameters change (a new argon2-cffi default, or a
change here), :func:`needs_rehash` says so for older hashes and sign-in re-hashes the password
while it has it in hand.

The policy follows NIST SP 800-63B rather than composition rules: a minimum length, no
password from a list of common ones, and nothing built from the user's own email address.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "hash_password",
    "needs_rehash",
    "password_problems",
    "verify_dummy",
    "verify_password",
]

MIN_LENGTH = 12
# Long enough for any passphrase; short enough that nobody can make the server hash megabytes.
MAX_LENGTH = 1024

_hasher = PasswordHasher()

# Common passwords of 12 characters or more (shorter ones fail the length rule anyway).
_COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123123123123",
        "111111111111",
        "000000000000",
        "123412341234",
        "987654321098",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "qazwsxedcrfv",
        "qwertyuiopas",
        "qwertyuiop12",
        "qwertyuiop123",
        "qwerty123456",
        "qwerty1234567",
        "asdfghjkl123",
        "zxcvbnm12345",
        "abcdefghijkl",
        "abcd1234abcd",
        "abc123abc123",
        "password1234",
        "password12345",
        "password123!",
        "passwordpassword",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "administrator",
        "changeme1234",
        "trustno1trustno1",
        "correcthorsebatterystaple",
    }
)

# Words that make a password easy to guess however many digits or symbols surround them:
# a password whose letters spell only one of these is refused.
_COMMON_WORDS = frozenset(
    {
        "password",
        "passw",
        "passwd",
        "pass",
        "qwerty",
        "qwertyuiop",
        "asdfgh",
        "asdfghjkl",
        "zxcvbnm",
        "abc",
        "abcdef",
        "letmein",
        "welcome",
        "admin",
        "administrator",
        "iloveyou",
        "football",
        "monkey",
        "dragon",
        "sunshine",
        "princess",
        "baseball",
        "master",
        "shadow",
        "superman",
        "trustno",
        "changeme",
        "secret",
        "login",
        "exchange",
        "council",
        "children",
        "socialcare",
        "childrenssocialcare",
    }
)


def _normalise(password: str) -> str:
    # NFKC, as NIST SP 800-63B advises, so the same password typed on different keyboards or
    # operating systems (composed or decomposed accents) hashes the same.
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; a PHC string that names its parameters)."""
    return _hasher.hash(_normalise(password))


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``. A malformed hash never matches."""
    try:
        return _hasher.verify(password_hash, _normalise(password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether ``password_hash`` was made with other parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return _hasher.hash("not a password anyone has: only for timing")


def verify_dummy(password: str) -> None:
    """Spend the time of a real verification, for an account that does not exist.

    Without it, "no such account" answers in microseconds and "wrong password" in a tenth of a
    second, and the difference tells an attacker which email addresses have accounts.
    """
    verify_password(_dummy_hash(), password)


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """What is wrong with ``password`` as a new password, as messages for the user; [] if fine."""
    if not password:
        return ["Enter a password"]
    password = _normalise(password)
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Password must be {MIN_LENGTH} characters or more")
    elif len(password) > MAX_LENGTH:
        problems.append(f"Password must be {MAX_LENGTH:,} characters or fewer")
    lowered = password.casefold()
    letters = re.sub(r"[^a-z]", "", lowered)
    if (
        lowered in _COMMON_PASSWORDS
        or letters in _COMMON_WORDS
        or len(set(lowered)) <= 2  # "aaaaaaaaaaaa", "abababababab"
    ):
        problems.append(
            "Password is too easy to guess: it is, or is built from, a commonly used password"
        )
    local_part = (email or "").partition("@")[0].casefold()
    # Very short local parts ("jo@") would match by chance; three letters or more would not.
    if len(local_part) >= 3 and local_part in lowered:
        problems.append("Password must not contain the first part of your email address")
    return problems
