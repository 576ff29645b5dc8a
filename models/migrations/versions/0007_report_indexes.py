"""indexes for reports and digests at province scale (issue 7, benchmark 3)

- deliveries (member_id, id): the digest's "unreachable" check read every delivery ever made
  (a full scan of the outbox for each chi bộ digest);
- members (unit_id, active, exempt), pledges (member_id, year, status) and
  assessment_entries (assessment_id, status): the report's grouped counts over a subtree read
  the index alone instead of every row.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 20:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_deliveries_member", "deliveries", ["member_id", "id"]),
    ("ix_members_unit_active", "members", ["unit_id", "active", "exempt"]),
    ("ix_pledges_member_year", "pledges", ["member_id", "year", "status"]),
    ("ix_assessment_entries_status", "assessment_entries", ["assessment_id", "status"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
