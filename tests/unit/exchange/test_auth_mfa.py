"""TOTP and recovery codes: the mfa module, the sealed secret, and the account actions that
enrol, verify and replace them (replay of a code, single use of recovery codes)."""

from __future__ import annotations

import re

import pyotp
import pytest
from auth_support import FakeClock, load_user, make_user, stored_secret, totp
from flask import Flask

from exchange.actions import accounts
from exchange.actions.accounts import SignInStatus
from exchange.extensions import db
from exchange.models import RecoveryCode, User
from exchange.security import clock as clock_module
from exchange.security import mfa, secrets_box


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock_module, "now", fake)
    return fake


def enrolled(app: Flask, clock: FakeClock) -> tuple[int, str, list[str]]:
    """A user enrolled through the action: (user id, secret, recovery codes)."""
    user_id = make_user(app)
    secret = mfa.new_totp_secret()
    with app.app_context():
        version = db.session.get(User, user_id).session_version
        result, codes = accounts.enrol_mfa(
            db.session, user_id, version, secret, totp(secret, clock)
        )
    assert result.status is SignInStatus.OK
    return user_id, secret, codes


def second_factor(app: Flask, user_id: int, code: str) -> accounts.SignInResult:
    with app.app_context():
        version = db.session.get(User, user_id).session_version
        return accounts.check_second_factor(db.session, user_id, version, code)


# -- the mfa module ----------------------------------------------------------------------------


def test_new_totp_secret_is_160_bit_base32() -> None:
    secret = mfa.new_totp_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert secret != mfa.new_totp_secret()


def test_provisioning_uri_names_issuer_account_and_parameters() -> None:
    uri = mfa.provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "sam@durham.example")
    assert uri.startswith("otpauth://totp/")
    assert "secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" in uri
    assert "sam%40durham.example" in uri
    assert "issuer=CSC%20benchmarking%20exchange" in uri


def test_qr_svg_is_inline_svg_without_script_or_style() -> None:
    svg = mfa.qr_svg(mfa.provisioning_uri(mfa.new_totp_secret(), "sam@durham.example"))
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "<script" not in svg
    assert "style=" not in svg
    assert "<?xml" not in svg


def test_matching_step_accepts_one_step_either_side(clock: FakeClock) -> None:
    secret = mfa.new_totp_secret()
    step = pyotp.TOTP(secret).timecode(clock())
    for offset in (-1, 0, 1):
        code = pyotp.TOTP(secret).generate_otp(step + offset)
        assert mfa.matching_step(secret, code, clock(), None) == step + offset
    too_old = pyotp.TOTP(secret).generate_otp(step - 2)
    assert mfa.matching_step(secret, too_old, clock(), None) is None


def test_matching_step_refuses_the_last_used_step_and_earlier(clock: FakeClock) -> None:
    secret = mfa.new_totp_secret()
    step = pyotp.TOTP(secret).timecode(clock())
    code = pyotp.TOTP(secret).generate_otp(step)
    assert mfa.matching_step(secret, code, clock(), step) is None
    previous = pyotp.TOTP(secret).generate_otp(step - 1)
    assert mfa.matching_step(secret, previous, clock(), step) is None


def test_matching_step_accepts_spaces_and_refuses_non_codes(clock: FakeClock) -> None:
    secret = mfa.new_totp_secret()
    code = totp(secret, clock)
    assert mfa.matching_step(secret, f"{code[:3]} {code[3:]}", clock(), None) is not None
    assert mfa.matching_step(secret, "abcdef", clock(), None) is None
    assert mfa.matching_step(secret, "", clock(), None) is None


def test_recovery_codes_are_ten_distinct_and_hashed() -> None:
    codes = mfa.generate_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    stored = mfa.hash_recovery_code(codes[0])
    assert stored.startswith("$argon2id$")
    assert codes[0] not in stored
    assert mfa.verify_recovery_code(stored, codes[0].upper().replace("-", " "))
    assert not mfa.verify_recovery_code(stored, codes[1])


# -- the sealed secret -------------------------------------------------------------------------


def test_secrets_box_round_trips_with_fresh_nonces(app: Flask) -> None:
    with app.app_context():
        first, second = secrets_box.seal(b"a secret"), secrets_box.seal(b"a secret")
        assert first != second
        assert b"a secret" not in first
        assert secrets_box.open_sealed(first) == b"a secret"


def test_secrets_box_detects_tampering(app: Flask) -> None:
    with app.app_context():
        token = bytearray(secrets_box.seal(b"a secret"))
        token[-1] ^= 1
        with pytest.raises(secrets_box.SealedSecretError):
            secrets_box.open_sealed(bytes(token))
        with pytest.raises(secrets_box.SealedSecretError):
            secrets_box.open_sealed(b"\x01short")


def test_secrets_box_needs_the_same_secret_key(app: Flask) -> None:
    with app.app_context():
        token = secrets_box.seal(b"a secret")
        app.config["SECRET_KEY"] = "another key entirely"
        with pytest.raises(secrets_box.SealedSecretError):
            secrets_box.open_sealed(token)


def test_secrets_box_refuses_large_plaintexts(app: Flask) -> None:
    with app.app_context(), pytest.raises(ValueError, match="small secrets"):
        secrets_box.seal(b"x" * 5000)


# -- enrolment and verification (actions) -------------------------------------------------------


def test_enrol_mfa_stores_the_secret_sealed_and_recovery_codes_hashed(
    db_app: Flask, clock: FakeClock
) -> None:
    user_id, secret, codes = enrolled(db_app, clock)
    user = load_user(db_app, user_id)
    assert user.mfa_enrolled_at == clock()
    assert user.totp_secret_encrypted is not None
    assert secret.encode() not in user.totp_secret_encrypted
    assert stored_secret(db_app, user_id) == secret
    with db_app.app_context():
        hashes = [c.code_hash for c in db.session.query(RecoveryCode).filter_by(user_id=user_id)]
    assert len(hashes) == 10
    assert not any(code in h for code in codes for h in hashes)


def test_enrol_mfa_wrong_code_stores_nothing(db_app: Flask, clock: FakeClock) -> None:
    user_id = make_user(db_app)
    with db_app.app_context():
        result, codes = accounts.enrol_mfa(db.session, user_id, 1, "A" * 32, "000000")
    assert result.status is SignInStatus.FAILED
    assert codes == []
    user = load_user(db_app, user_id)
    assert user.totp_secret_encrypted is None
    assert user.failed_logins == 1


def test_enrol_mfa_refuses_a_user_already_enrolled(db_app: Flask, clock: FakeClock) -> None:
    user_id, secret, _ = enrolled(db_app, clock)
    clock.advance(seconds=30)
    with db_app.app_context():
        version = db.session.get(User, user_id).session_version
        result, _ = accounts.enrol_mfa(
            db.session, user_id, version, mfa.new_totp_secret(), totp(secret, clock)
        )
    assert result.status is SignInStatus.EXPIRED
    assert stored_secret(db_app, user_id) == secret


def test_check_second_factor_accepts_a_current_code(db_app: Flask, clock: FakeClock) -> None:
    user_id, secret, _ = enrolled(db_app, clock)
    clock.advance(seconds=30)
    result = second_factor(db_app, user_id, totp(secret, clock))
    assert result.status is SignInStatus.OK
    assert result.method == "totp"
    assert load_user(db_app, user_id).last_login_at == clock()


def test_check_second_factor_refuses_a_reused_code(db_app: Flask, clock: FakeClock) -> None:
    user_id, secret, _ = enrolled(db_app, clock)
    clock.advance(seconds=30)
    code = totp(secret, clock)
    assert second_factor(db_app, user_id, code).ok
    assert second_factor(db_app, user_id, code).status is SignInStatus.FAILED
    clock.advance(seconds=30)
    assert second_factor(db_app, user_id, totp(secret, clock)).ok


def test_check_second_factor_refuses_the_enrolment_code_again(
    db_app: Flask, clock: FakeClock
) -> None:
    user_id, secret, _ = enrolled(db_app, clock)
    assert second_factor(db_app, user_id, totp(secret, clock)).status is SignInStatus.FAILED


def test_recovery_code_works_once(db_app: Flask, clock: FakeClock) -> None:
    user_id, _, codes = enrolled(db_app, clock)
    first = second_factor(db_app, user_id, codes[3])
    assert first.status is SignInStatus.OK
    assert first.method == "recovery_code"
    assert first.recovery_codes_left == 9
    assert second_factor(db_app, user_id, codes[3]).status is SignInStatus.FAILED
    assert (
        second_factor(db_app, user_id, codes[4].replace("-", "").upper()).recovery_codes_left == 8
    )


def test_regenerate_recovery_codes_replaces_the_old_ones(db_app: Flask, clock: FakeClock) -> None:
    user_id, secret, old = enrolled(db_app, clock)
    clock.advance(seconds=30)
    with db_app.app_context():
        result, new = accounts.regenerate_recovery_codes(db.session, user_id, totp(secret, clock))
    assert result.ok
    assert len(new) == 10
    assert set(new).isdisjoint(old)
    assert second_factor(db_app, user_id, old[0]).status is SignInStatus.FAILED
    assert second_factor(db_app, user_id, new[0]).ok


def test_regenerate_recovery_codes_refuses_a_recovery_code(db_app: Flask, clock: FakeClock) -> None:
    user_id, _, codes = enrolled(db_app, clock)
    with db_app.app_context():
        result, new = accounts.regenerate_recovery_codes(db.session, user_id, codes[0])
    assert result.status is SignInStatus.FAILED
    assert new == []


def test_reset_mfa_removes_secret_and_codes_and_ends_sessions(
    db_app: Flask, clock: FakeClock
) -> None:
    from exchange.security.principals import system_principal

    user_id, _, _ = enrolled(db_app, clock)
    before = load_user(db_app, user_id).session_version
    with db_app.app_context():
        accounts.reset_mfa(
            db.session, system_principal("system:test"), "Sam.Submitter@durham.example"
        )
        assert db.session.query(RecoveryCode).filter_by(user_id=user_id).count() == 0
    user = load_user(db_app, user_id)
    assert user.totp_secret_encrypted is None
    assert user.mfa_enrolled_at is None
    assert user.totp_last_step is None
    assert user.session_version == before + 1
