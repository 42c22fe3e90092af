"""Sharing settings: how widely each LA shares each catalogue domain, and per-indicator overrides.

One row per (LA, domain) holds the domain-level scope (``indicator_id`` NULL); one row per
(LA, domain, indicator) holds an override for that indicator. No row means the default,
private. The effective scope of an indicator is its override, else its domain's setting, else
private (``exchange.actions.sharing.effective_scopes``).

Uniqueness. PostgreSQL (and SQLite) treat NULLs as distinct in a unique constraint, so
``UNIQUE (organisation_id, domain, indicator_id)`` alone would let an LA hold two domain-level
rows for the same domain. A partial unique index on ``(organisation_id, domain) WHERE
indicator_id IS NULL`` closes that gap. It was chosen over storing ``""`` for the domain level
because NULL says what is meant ("no indicator") and an empty string is a magic value every
query would have to know about; both databases support partial indexes
(``postgresql_where`` / ``sqlite_where``), and PostgreSQL 15's ``NULLS NOT DISTINCT`` has no
SQLite equivalent.

``scope`` is stored as a string (the values of ``exchange.security.policy.Scope``), checked by
the database. The enum is not imported here because the policy module imports the models.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

# Must equal the values of exchange.security.policy.Scope (tests/unit/exchange/test_sharing.py
# checks that they stay in step).
SCOPE_VALUES = ("private", "alliance", "national")


class SharingSetting(Base):
    __tablename__ = "sharing_setting"
    __table_args__ = (
        # Per-indicator overrides: one per (LA, domain, indicator).
        UniqueConstraint("organisation_id", "domain", "indicator_id"),
        # The domain-level row: NULLs are distinct in the constraint above, so this is needed.
        Index(
            "uq_sharing_setting_domain_level",
            "organisation_id",
            "domain",
            unique=True,
            postgresql_where=text("indicator_id IS NULL"),
            sqlite_where=text("indicator_id IS NULL"),
        ),
        CheckConstraint(
            "scope IN (" + ", ".join(f"'{v}'" for v in SCOPE_VALUES) + ")", name="scope"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No separate index: the unique constraint's index leads with organisation_id.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(64))  # a catalogue domain id
    # NULL: the domain-level setting; otherwise an override for this indicator of the domain.
    indicator_id: Mapped[str | None] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
