"""match the one-current-version index to the stored status names

The partial unique index that allows at most one current version per submission compared the
status with 'current', but the column stores the enum member's name, 'CURRENT', so the index
never covered any row. It is recreated with the stored name.

Revision ID: 5b0e2d7c9a41
Revises: cfdc0a439dbd
Create Date: 2026-11-26 17:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b0e2d7c9a41"
down_revision: str | Sequence[str] | None = "cfdc0a439dbd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_submission_version_one_current"


def _recreate(where: str) -> None:
    with op.batch_alter_table("submission_version", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.create_index(
            INDEX,
            ["submission_id"],
            unique=True,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def upgrade() -> None:
    _recreate("status = 'CURRENT'")


def downgrade() -> None:
    _recreate("status = 'current'")
