"""Password hashing (argon2id), re-hashing when parameters change, and the password policy."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from auth_support import PASSWORD, make_user, post_password
from flask import Flask

from exchange.extensions import db
from exchange.models import User
from exchange.security import passwords

# -- hashing -----------------------------------------------------------------------------------


def test_hash_password_is_argon2id_with_a_salt() -> None:
    first, second = passwords.hash_password(PASSWORD), passwords.hash_password(PASSWORD)
    assert first.startswith("$argon2id$")
    assert first != second  # salted
    assert PASSWORD not in first


def test_verify_password_accepts_the_password_only() -> None:
    stored = passwords.hash_password(PASSWORD)
    assert passwords.verify_password(stored, PASSWORD)
    assert not passwords.verify_password(stored, PASSWORD + "x")
    assert not passwords.verify_password(stored, "")


def test_verify_password_normalises_unicode() -> None:
    composed, decomposed = "caf\u00e9 on the corner street", "cafe\u0301 on the corner street"
    assert passwords.verify_password(passwords.hash_password(composed), decomposed)


def test_verify_password_malformed_hash_never_matches() -> None:
    assert not passwords.verify_password("not-a-hash", PASSWORD)
    assert passwords.needs_rehash("not-a-hash")


def test_needs_rehash_detects_other_parameters() -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert passwords.verify_password(weaker, PASSWORD)
    assert passwords.needs_rehash(weaker)
    assert not passwords.needs_rehash(passwords.hash_password(PASSWORD))


def test_sign_in_rehashes_password_made_with_old_parameters(db_app: Flask) -> None:
    user_id = make_user(db_app)
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with db_app.app_context():
        db.session.get(User, user_id).password_hash = weaker
        db.session.commit()

    assert post_password(db_app.test_client()).status_code == 303

    with db_app.app_context():
        upgraded = db.session.get(User, user_id).password_hash
    assert upgraded != weaker
    assert not passwords.needs_rehash(upgraded)
    assert passwords.verify_password(upgraded, PASSWORD)


def test_sign_in_wrong_password_does_not_rehash(db_app: Flask) -> None:
    user_id = make_user(db_app)
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with db_app.app_context():
        db.session.get(User, user_id).password_hash = weaker
        db.session.commit()

    post_password(db_app.test_client(), password="wrong password entirely")

    with db_app.app_context():
        assert db.session.get(User, user_id).password_hash == weaker


# -- policy ------------------------------------------------------------------------------------


def test_password_policy_accepts_a_long_uncommon_password() -> None:
    assert passwords.password_problems(PASSWORD, email="sam@durham.example") == []


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "Enter a password"),
        ("short pass1", "Password must be 12 characters or more"),
        ("x" * 1025, "Password must be 1,024 characters or fewer"),
    ],
)
def test_password_policy_length(password: str, message: str) -> None:
    assert message in passwords.password_problems(password)


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "Password1234!",
        "QWERTY123456",
        "qwertyuiop12",
        "aaaaaaaaaaaa",
        "abababababab",
    ],
)
def test_password_policy_refuses_common_passwords(password: str) -> None:
    assert passwords.password_problems(password) == [
        "Password is too easy to guess: it is, or is built from, a commonly used password"
    ]


def test_password_policy_refuses_the_email_local_part() -> None:
    problems = passwords.password_problems(
        "my name is Sam.Submitter ok", email="sam.submitter@x.uk"
    )
    assert problems == ["Password must not contain the first part of your email address"]


def test_password_policy_ignores_a_very_short_local_part() -> None:
    assert passwords.password_problems("jolly good hedgehog", email="jo@x.uk") == []


def test_password_policy_reports_every_problem() -> None:
    assert len(passwords.password_problems("sam1", email="sam@x.uk")) == 2
