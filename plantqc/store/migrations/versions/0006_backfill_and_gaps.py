"""samples.backfilled / profiles.backfilled and the data_gaps table

A sample read from the OPC UA server's history after a restart or reconnect is marked as
backfilled; a stretch the server kept no history of is one data_gaps row (tag, from, to,
reason), unique on (tag, from) so that a re-sent buffer batch records it once.

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


def downgrade() -> None:
    op.drop_table("data_gaps")
    for table in ("profiles", "samples"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("backfilled")
