"""share unchanged comparison files between sets, and keep one current set

An incremental recompute points the new comparison set at the previous files of the LAs it
did not touch, and stores what every LA may see of the improvement journeys in one shared
file (``comparison_set.shared_file_id``). A partial unique index allows at most one current
set, so two recomputes racing to make the first one current cannot both succeed.

Revision ID: 7d3f1a9e2b60
Revises: af8dedc13ea9
Create Date: 2026-11-26 19:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d3f1a9e2b60"
down_revision: str | Sequence[str] | None = "af8dedc13ea9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_comparison_set_one_current"
FOREIGN_KEY = "fk_comparison_set_shared_file_id_stored_file"
# SQLAlchemy stores an enum member's name.
CURRENT = "status = 'CURRENT'"


def upgrade() -> None:
    with op.batch_alter_table("comparison_set", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "shared_file_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_foreign_key(FOREIGN_KEY, "stored_file", ["shared_file_id"], ["id"])
        batch_op.create_index(
            INDEX,
            ["status"],
            unique=True,
            sqlite_where=sa.text(CURRENT),
            postgresql_where=sa.text(CURRENT),
        )


def downgrade() -> None:
    with op.batch_alter_table("comparison_set", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        batch_op.drop_column("shared_file_id")
