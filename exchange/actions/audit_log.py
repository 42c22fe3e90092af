"""Checking the audit log from the portal: an administrator asks for the hash chain to be walked.

Reading the log is not itself audited (it would add an event for every page of the audit view);
running the verification is, with its result, so the log shows who checked it and when.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from exchange import audit
from exchange.audit import ChainBreak
from exchange.db import one_transaction
from exchange.security.policy import Permission, Principal, allowed

__all__ = ["AUDIT_VERIFIED", "verify_audit_log"]

AUDIT_VERIFIED = "audit_verified"


def verify_audit_log(session: Session, actor: Principal) -> tuple[int, ChainBreak | None]:
    """Walk the chain (``exchange.audit.verify``) and record the result as ``audit_verified``
    in one transaction. Administrators (and system actors) only: anyone else gets
    PermissionError, and the refusal is audited."""
    if not allowed(actor, Permission.ADMINISTER):
        _record(session, actor, outcome="denied", details={})
        raise PermissionError("only administrators verify the audit log")
    count, broken = audit.verify(session)
    details: dict[str, object] = {"entries": count, "intact": broken is None}
    if broken is not None:
        details |= {"broken_at": broken.seq, "reason": broken.reason}
    _record(session, actor, outcome="success" if broken is None else "failure", details=details)
    return count, broken


def _record(
    session: Session, actor: Principal, *, outcome: str, details: dict[str, object]
) -> None:
    with one_transaction(session):
        audit.record_by(
            session,
            AUDIT_VERIFIED,
            actor,
            organisation_id=actor.organisation_id,
            target_type="audit_log",
            outcome=outcome,
            details=details,
        )


DOWNLOADED = "download"


def record_download(
    session: Session,
    actor: Principal,
    *,
    what: str,
    target_id: str,
    organisation_id: int | None,
    media_type: str,
) -> None:
    """Record that ``actor`` downloaded ``what`` (e.g. a validation report of their LA's file)
    in its own transaction. The caller has already authorised the download; the event says who
    took which artefact, in which format, never its contents."""
    with one_transaction(session):
        audit.record_by(
            session,
            DOWNLOADED,
            actor,
            organisation_id=organisation_id,
            target_type=what,
            target_id=target_id,
            details={"media_type": media_type},
        )
