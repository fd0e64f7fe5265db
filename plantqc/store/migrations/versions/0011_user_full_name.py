"""users.full_name: the printed name an electronic signature shows (21 CFR 11.50(a)(1))

A signature by a login name alone does not say who signed; the account's full name does.
Accounts that exist before this revision get their login name as full name, so that the
column can be required; an administrator corrects it later.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("full_name", sa.String(length=128), nullable=True))
    op.execute("UPDATE users SET full_name = name")
    # batch mode: SQLite cannot make a column NOT NULL in place, it copies the table
    with op.batch_alter_table("users") as batch:
        batch.alter_column("full_name", existing_type=sa.String(length=128), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("full_name")
