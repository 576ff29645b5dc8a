"""deliveries.bulk: the worker reads conversation rows and bulk rows apart, each by an index

The delivery worker reads the next rows of conversations, reminders and digests through it,
however many broadcast rows wait: a look that sorted 10,000 waiting broadcast rows took 100 ms,
and the worker looks after every send.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None



def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bulk", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute("UPDATE deliveries SET bulk = true WHERE kind = 'broadcast'")
    op.create_index(
        "ix_deliveries_due_bulk", "deliveries", ["status", "bulk", "next_attempt_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_due_bulk", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("bulk")
