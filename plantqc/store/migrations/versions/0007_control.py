"""control_loops and control_moves: the state of each thickness control loop and its moves

One control_loops row per loop (``<line>.md``, ``<line>.cd``): its mode, the setpoint read back
from the line, the latest measurement, the current hold and when the row was last updated.
One control_moves row per supervisor event worth keeping (proposed, accepted, rejected, applied
move, hold, resume, failed write), with its old and new setpoint (a number, or a list for the
die bolts), the reason and the user; ``status`` tracks an advisory proposal from pending to
accepted / rejected / applied / superseded.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "control_loops",
        sa.Column("loop", sa.String(length=128), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("mode_by", sa.String(length=128), nullable=False),
        sa.Column("setpoint", _json(), nullable=True),
        sa.Column("measured", _json(), nullable=True),
        sa.Column("hold", sa.Text(), nullable=True),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("loop", name="pk_control_loops"),
    )
    op.create_table(
        "control_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loop", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("old", _json(), nullable=True),
        sa.Column("new", _json(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("user", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["loop"],
            ["control_loops.loop"],
            name="fk_control_moves_loop_control_loops",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_control_moves"),
    )
    op.create_index("ix_control_moves_loop_at", "control_moves", ["loop", "at"])


def downgrade() -> None:
    op.drop_index("ix_control_moves_loop_at", table_name="control_moves")
    op.drop_table("control_moves")
    op.drop_table("control_loops")
