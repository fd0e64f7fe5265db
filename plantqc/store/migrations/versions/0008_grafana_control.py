"""Grafana views of the control loops and their moves

The read-only Grafana schema (migration 0002) gets a view of ``control_loops`` (mode, setpoint
and measurement as last read back, the current hold) and of ``control_moves`` (every proposed,
accepted, rejected, applied and failed move, hold and resume) for the thickness control
panels.  SQLite has no Grafana schema: nothing to do there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as migration 0002 names them (a revision imports nothing from plantqc or other revisions)
_READ_ONLY_ROLE = "plantqc_grafana_ro"
_VIEWS = {
    "control_loops": "loop, line, mode, mode_by, setpoint, measured, hold, updated",
    "control_moves": 'id, loop, at, kind, old, new, reason, "user", status',
}


def _grafana_schema(store: str) -> str:
    return "grafana" if store == "public" else f"{store}_grafana"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    store = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    g = _grafana_schema(store)
    if bind.exec_driver_sql(f"SELECT to_regnamespace('{g}')").scalar() is None:
        return  # a store migrated without the Grafana schema
    role = bind.exec_driver_sql(
        "SELECT 1 FROM pg_roles WHERE rolname = %(role)s", {"role": _READ_ONLY_ROLE}
    ).first()
    for view, columns in _VIEWS.items():
        op.execute(f"CREATE VIEW {g}.{view} AS SELECT {columns} FROM {store}.{view}")
        if role is not None:
            op.execute(f"GRANT SELECT ON {g}.{view} TO {_READ_ONLY_ROLE}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        store = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
        for view in reversed(list(_VIEWS)):
            op.execute(f"DROP VIEW IF EXISTS {_grafana_schema(store)}.{view}")
