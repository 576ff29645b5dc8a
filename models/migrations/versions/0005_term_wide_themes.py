"""themes: term-wide themes (chuyên đề toàn khóa) beside the yearly ones

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A unit may publish a term-wide theme and a yearly theme starting the same year.
    with op.batch_alter_table("themes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("term", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.drop_constraint("uq_themes_unit_id_year", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_themes_unit_id_year_term"), ["unit_id", "year", "term"]
        )


def downgrade() -> None:
    with op.batch_alter_table("themes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_themes_unit_id_year_term"), type_="unique")
        batch_op.create_unique_constraint("uq_themes_unit_id_year", ["unit_id", "year"])
        batch_op.drop_column("term")
