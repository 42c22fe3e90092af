"""The audit log is tamper-evident: editing, deleting or reordering any row is detected by
``exchange audit verify``, which names the first broken link."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import delete, text, update

from exchange import audit
from exchange.extensions import db
from exchange.models import AuditEvent

pytestmark = pytest.mark.integration


def _seed(app: Flask, n: int = 6) -> None:
    with app.app_context(), db.transaction() as session:
        for i in range(n):
            audit.record(
                session,
                "login_success",
                actor_label=f"user{i}@example.org",
                actor_user_id=i,
                details={"attempt": i},
            )


def _verify(app: Flask) -> tuple[int, str]:
    from exchange.cli import main

    result = CliRunner().invoke(main, ["audit", "verify"], obj=_script_info(app))
    return result.exit_code, result.output


def _script_info(app: Flask) -> object:
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def test_audit_verify_intact_chain_passes(db_app: Flask) -> None:
    _seed(db_app)
    code, output = _verify(db_app)
    assert code == 0, output
    assert "6 entries verified" in output


def _edit_details(session: object) -> None:
    session.execute(  # type: ignore[attr-defined]
        update(AuditEvent).where(AuditEvent.seq == 3).values(details={"attempt": 99})
    )


def _edit_actor(session: object) -> None:
    session.execute(  # type: ignore[attr-defined]
        update(AuditEvent).where(AuditEvent.seq == 3).values(actor_label="someone@else.org")
    )


def _delete_middle(session: object) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.seq == 3))  # type: ignore[attr-defined]


def _delete_last(session: object) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.seq == 6))  # type: ignore[attr-defined]


def _rehash_edit(session: object) -> None:
    # A forger who edits a row and recomputes its own hash still breaks the next link.
    session.execute(  # type: ignore[attr-defined]
        update(AuditEvent).where(AuditEvent.seq == 3).values(action="logout")
    )
    event = session.get(AuditEvent, 3)  # type: ignore[attr-defined]
    session.refresh(event)  # type: ignore[attr-defined]
    event.hash = audit.compute_hash(event)


def _raw_sql_edit(session: object) -> None:
    session.execute(text("UPDATE audit_event SET outcome = 'failure' WHERE seq = 2"))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("tamper", "broken_at"),
    [
        (_edit_details, 3),
        (_edit_actor, 3),
        (_delete_middle, 3),
        (_delete_last, 6),
        (_rehash_edit, 4),
        (_raw_sql_edit, 2),
    ],
    ids=[
        "edit-details",
        "edit-actor",
        "delete-middle",
        "delete-last",
        "edit-and-rehash",
        "raw-sql",
    ],
)
def test_audit_verify_tampering_detected(
    db_app: Flask, tamper: Callable[[object], None], broken_at: int
) -> None:
    _seed(db_app)
    with db_app.app_context(), db.transaction() as session:
        tamper(session)
    code, output = _verify(db_app)
    assert code == 1
    assert f"BROKEN at entry {broken_at}" in output


def test_audit_record_rejects_data_values_in_details(db_app: Flask) -> None:
    with db_app.app_context(), pytest.raises(ValueError, match="data values"):
        audit.record(db.session, "upload", actor_label="x", details={"numerator": 5})
