"""Recording and verifying the audit log (the chain itself is in ``models.audit``).

``record`` adds an event to the caller's transaction, so an action and its audit event commit
or roll back together. Appends are serialised (a row lock on PostgreSQL, SQLite's single
writer) so two writers cannot both chain to the same previous entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models.audit import AuditEvent, AuditHead
from .models.base import utcnow

__all__ = ["GENESIS", "ChainBreak", "record", "verify"]

GENESIS = "0" * 64

# Keys that must never appear in details: they could carry data values.
_FORBIDDEN_DETAIL_KEYS = frozenset({"value", "values", "numerator", "denominator", "cells", "row"})


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "action": event.action,
        "actor_user_id": event.actor_user_id,
        "actor_label": event.actor_label,
        "organisation_id": event.organisation_id,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "outcome": event.outcome,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def record(
    session: Session,
    action: str,
    *,
    actor_label: str,
    actor_user_id: int | None = None,
    organisation_id: int | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event in ``session``'s transaction (the caller commits)."""
    details = dict(details or {})
    if leaked := _FORBIDDEN_DETAIL_KEYS & set(details):
        raise ValueError(f"audit details must not carry data values: {sorted(leaked)}")
    # Locking the head row serialises appends across processes.
    head = session.execute(select(AuditHead).with_for_update()).scalar_one_or_none()
    last = session.execute(
        select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)
    ).scalar_one_or_none()
    at: datetime = utcnow()
    if last is not None and at < last.at:
        at = last.at  # keep time non-decreasing along the chain
    event = AuditEvent(
        seq=(last.seq + 1) if last else 1,
        at=at,
        action=action,
        actor_user_id=actor_user_id,
        actor_label=actor_label,
        organisation_id=organisation_id,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        outcome=outcome,
        details=details,
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = compute_hash(event)
    session.add(event)
    if head is None:
        head = AuditHead(id=1, seq=event.seq, hash=event.hash)
        session.add(head)
    else:
        head.seq, head.hash = event.seq, event.hash
    session.flush()
    return event


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


class Actor(Protocol):
    """Who acted: a signed-in principal, or the system (``user_id`` None)."""

    @property
    def label(self) -> str: ...

    @property
    def user_id(self) -> int | None: ...


def record_by(session: Session, action: str, actor: Actor, **fields: Any) -> AuditEvent:
    """:func:`record` with the actor's label and user id taken from ``actor`` (the form every
    action uses)."""
    return record(session, action, actor_label=actor.label, actor_user_id=actor.user_id, **fields)


def _events(session: Session, batch: int = 5_000) -> Iterator[AuditEvent]:
    after = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
        session.expunge_all()


def verify(session: Session) -> tuple[int, ChainBreak | None]:
    """Walk the chain; return (events checked, first broken link or None)."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    for event in _events(session):
        count += 1
        if event.seq != expected_seq:
            return count, ChainBreak(expected_seq, f"entry {expected_seq} is missing")
        if event.prev_hash != expected_prev:
            return count, ChainBreak(event.seq, "does not chain to the previous entry")
        if compute_hash(event) != event.hash:
            return count, ChainBreak(event.seq, "its content does not match its hash (edited)")
        expected_prev, expected_seq = event.hash, event.seq + 1
    head = session.get(AuditHead, 1)
    last_seq = expected_seq - 1
    if head is not None and (head.seq != last_seq or head.hash != expected_prev):
        return count, ChainBreak(
            last_seq + 1,
            f"the log ends at entry {last_seq} but its head "
            f"records entry {head.seq}: entries were removed from the end",
        )
    if head is None and count:
        return count, ChainBreak(1, "the log has entries but no head record")
    return count, None
