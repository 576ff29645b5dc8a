"""the report's cache: per-unit figures, invalidated by triggers (issue 7, benchmark 3)

- unit_versions: a unit's version, bumped by triggers on every write that changes the unit's
  own report figures (its members, their pledges, self-assessments, entries and excuses), so no
  write path (handlers, the roster import, `member forget`, org merges, bulk updates) can forget
  to invalidate the cache;
- unit_year_counts: a unit's own figures for a year (the months as columns), as
  models.reports computed them, with the version they were computed at; a row is valid while
  that is still the unit's version.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MEMBER_UNIT = "(SELECT unit_id FROM members WHERE id = {row}.member_id)"
# table: (the columns an update must change to matter, the unit of a row as SQL of {row})
WATCHED: dict[str, tuple[tuple[str, ...], str]] = {
    "members": (("unit_id", "active", "exempt"), "{row}.unit_id"),
    "pledges": (("member_id", "year", "status"), _MEMBER_UNIT),
    "assessments": (("member_id", "period"), _MEMBER_UNIT),
    "member_periods": (("member_id", "period", "excuse"), _MEMBER_UNIT),
    "assessment_entries": (
        ("assessment_id", "status"),
        "(SELECT m.unit_id FROM assessments a JOIN members m ON m.id = a.member_id"
        " WHERE a.id = {row}.assessment_id)",
    ),
}
# org_units.id: BIGINT on PostgreSQL, INTEGER on SQLite (models.tables.BigId)
MONTH_FIGURES = ("excused", "assessed", "items_done", "items_doing", "items_not_yet")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EVENTS = (("insert", ("NEW",)), ("delete", ("OLD",)), ("update", ("OLD", "NEW")))


def upgrade() -> None:
    op.create_table(
        "unit_versions",
        sa.Column("unit_id", BIG_ID, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_unit_versions_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_unit_versions")),
    )
    op.create_table(
        "unit_year_counts",
        sa.Column("unit_id", BIG_ID, nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("members", "exempt", "registered", "approved")
        ),
        *(
            sa.Column(
                f"{figure}_{month:02d}", sa.Integer(), nullable=figure.startswith("items_")
            )
            for month in range(1, 13)
            for figure in MONTH_FIGURES
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_unit_year_counts_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("unit_id", "year", name=op.f("pk_unit_year_counts")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(_PG_BUMP)
    for table, (columns, unit) in WATCHED.items():
        for statement in (_postgresql if postgresql else _sqlite)(table, columns, unit):
            op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in WATCHED:
        for event, _ in EVENTS:
            on = f" ON {table}" if postgresql else ""
            op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_unit_{event}{on}")
        if postgresql:
            for name in ("bump_unit", "bump_units_insert", "bump_units_delete"):
                op.execute(f"DROP FUNCTION IF EXISTS {table}_{name}()")
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS bump_unit_version(bigint)")
    for table in ("unit_year_counts", "unit_versions"):
        op.drop_table(table)


def _changed(columns: Sequence[str], differ: str) -> str:
    return " OR ".join(f"OLD.{c} {differ} NEW.{c}" for c in columns)


# SQLite: one trigger per event; an upsert, +1 (the WHERE keeps "SELECT … ON CONFLICT" parsable).
def _sqlite(table: str, columns: Sequence[str], unit: str) -> list[str]:
    statements = []
    for event, rows in EVENTS:
        of = f" OF {', '.join(columns)}" if event == "update" else ""
        when = f" WHEN {_changed(columns, 'IS NOT')}" if event == "update" else ""
        bumps = "".join(
            "INSERT INTO unit_versions (unit_id, version)"
            f" SELECT u, 1 FROM (SELECT {unit.format(row=row)} AS u) WHERE u IS NOT NULL"
            " ON CONFLICT (unit_id) DO UPDATE SET version = version + 1; "
            for row in rows
        )
        statements.append(
            f"CREATE TRIGGER {table}_bump_unit_{event} AFTER {event.upper()}{of} ON {table}"
            f" FOR EACH ROW{when} BEGIN {bumps}END"
        )
    return statements


_PG_BUMP = """
CREATE OR REPLACE FUNCTION bump_unit_version(unit bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF unit IS NOT NULL THEN
        INSERT INTO unit_versions (unit_id, version) VALUES (unit, 1)
        ON CONFLICT (unit_id) DO UPDATE SET version = unit_versions.version + 1;
    END IF;
END $$
"""


# PostgreSQL: inserts and deletes bump each unit once per statement, from the transition table
# (a bulk COPY or a roster import runs one upsert, not one per row); updates, row by row, only
# when a watched column changes.
def _postgresql(table: str, columns: Sequence[str], unit: str) -> list[str]:
    statements = [
        f"""
CREATE OR REPLACE FUNCTION {table}_bump_unit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bump_unit_version({unit.format(row="OLD")});
    PERFORM bump_unit_version({unit.format(row="NEW")});
    RETURN NULL;
END $$
""",
        f"CREATE TRIGGER {table}_bump_unit_update AFTER UPDATE OF {', '.join(columns)}"
        f" ON {table} FOR EACH ROW WHEN ({_changed(columns, 'IS DISTINCT FROM')})"
        f" EXECUTE FUNCTION {table}_bump_unit()",
    ]
    for event, transition in (("insert", "NEW TABLE"), ("delete", "OLD TABLE")):
        statements += [
            f"""
CREATE OR REPLACE FUNCTION {table}_bump_units_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO unit_versions (unit_id, version)
    SELECT DISTINCT u, 1 FROM (SELECT {unit.format(row="changed")} AS u FROM changed) AS s
    WHERE u IS NOT NULL ORDER BY u
    ON CONFLICT (unit_id) DO UPDATE SET version = unit_versions.version + 1;
    RETURN NULL;
END $$
""",
            f"CREATE TRIGGER {table}_bump_unit_{event} AFTER {event.upper()} ON {table}"
            f" REFERENCING {transition}"
            f" AS changed FOR EACH STATEMENT EXECUTE FUNCTION {table}_bump_units_{event}()",
        ]
    return statements
