"""samples.backfilled / profiles.backfilled and the data_gaps table

A sample read from the OPC UA server's history after a restart or reconnect is marked as
backfilled; a stretch the server kept no history of is one data_gaps row (tag, from, to,
reason), unique on (tag, from) so that a re-sent buffer batch records it once.  On
PostgreSQL the read-only Grafana schema (migration 0002) gets a view of it for the gaps panel.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as migration 0002 names them (a revision imports nothing from plantqc or other revisions)
_READ_ONLY_ROLE = "plantqc_grafana_ro"


def _grafana_schema(store: str) -> str:
    return "grafana" if store == "public" else f"{store}_grafana"


def upgrade() -> None:
    # every sample stored before this revision came from a live subscription
    for table in ("samples", "profiles"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("backfilled", sa.Boolean(), server_default=sa.false(), nullable=False)
            )
    op.create_table(
        "data_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("gap_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gap_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["tags.id"],
            name="fk_data_gaps_tag_id_tags",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_data_gaps"),
        sa.UniqueConstraint("tag_id", "gap_from", name="uq_data_gaps_tag_id"),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    store = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    g = _grafana_schema(store)
    if bind.exec_driver_sql(f"SELECT to_regnamespace('{g}')").scalar() is None:
        return  # a store migrated without the Grafana schema
    op.execute(
        f"CREATE VIEW {g}.data_gaps AS "
        f"SELECT tag_id, gap_from, gap_to, reason FROM {store}.data_gaps"
    )
    role = bind.exec_driver_sql(
        "SELECT 1 FROM pg_roles WHERE rolname = %(role)s", {"role": _READ_ONLY_ROLE}
    ).first()
    if role is not None:
        op.execute(f"GRANT SELECT ON {g}.data_gaps TO {_READ_ONLY_ROLE}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        store = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
        op.execute(f"DROP VIEW IF EXISTS {_grafana_schema(store)}.data_gaps")
    op.drop_table("data_gaps")
    for table in ("profiles", "samples"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("backfilled")
