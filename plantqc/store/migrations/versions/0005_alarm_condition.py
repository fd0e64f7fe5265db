"""alarms.condition_active: whether an alarm's condition still holds while it is shelved

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # an open alarm's condition is taken to hold, which is what its state said before
    with op.batch_alter_table("alarms") as batch:
        batch.add_column(
            sa.Column("condition_active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("alarms") as batch:
        batch.drop_column("condition_active")
