"""The tamper-evident audit log: append-only, each entry chained to the previous one's hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class AuditEvent(Base):
    """One security-relevant event. Never updated or deleted by the application.

    ``hash`` is SHA-256 over the previous entry's hash and this entry's canonical content, so
    editing, deleting or reordering any row breaks the chain from that row on
    (``exchange audit verify``). Details never hold cell values.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(64), index=True)
    actor_user_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(255))
    organisation_id: Mapped[int | None] = mapped_column(index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's last entry, updated with every append: deleting the newest entries (which
    leaves a shorter but internally consistent chain) no longer matches the head."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
