"""Grafana view of alarm annunciations, for the EEMUA 191 alarm-system panels

The read-only Grafana schema (migration 0002) gets ``alarm_annunciations``: one row per time
an alarm was annunciated, read from the audit trail as `plantqc alarms kpi` reads it: an
``alarm-raise`` or ``alarm-reactivate`` entry that left the alarm active-unacknowledged, at
the condition's time (the entry's ``at`` detail, else the alarm's ``first_at`` for a raise,
else when it was recorded).  A time recorded without an offset is UTC.  SQLite has no Grafana
schema: nothing to do there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as migration 0002 names it (a revision imports nothing from plantqc or other revisions)
_READ_ONLY_ROLE = "plantqc_grafana_ro"
# the audit actions and state of an annunciation as this revision was written
_ACTIONS = "'alarm-raise', 'alarm-reactivate'"
_ANNUNCIATED_STATE = "'active-unacknowledged'"


def _grafana_schema(store: str) -> str:
    return "grafana" if store == "public" else f"{store}_grafana"


def _view(s: str, g: str) -> str:
    at = "au.detail ->> 'at'"
    return f"""CREATE VIEW {g}.alarm_annunciations AS
        SELECT a.id AS alarm_id, a.line_id, l.name AS line, t.name AS tag, a.code AS rule,
               CASE WHEN {at} ~ '([+-][0-9]{{2}}(:?[0-9]{{2}})?|Z)$' THEN ({at})::timestamptz
                    WHEN {at} IS NOT NULL THEN ({at})::timestamp AT TIME ZONE 'UTC'
                    WHEN au.action = 'alarm-raise' THEN a.first_at
                    ELSE au.at END AS at
        FROM {s}.audit_log au
        JOIN {s}.alarms a ON au.entity_id = a.id::text
        JOIN {s}.lines l ON l.id = a.line_id
        LEFT JOIN {s}.tags t ON t.id = a.tag_id
        WHERE au.entity = 'alarm' AND au.action IN ({_ACTIONS})
          AND au.detail ->> 'state' = {_ANNUNCIATED_STATE}"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    store = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    g = _grafana_schema(store)
    if bind.exec_driver_sql(f"SELECT to_regnamespace('{g}')").scalar() is None:
        return  # a store migrated without the Grafana schema
    op.execute(_view(store, g))
    role = bind.exec_driver_sql(
        "SELECT 1 FROM pg_roles WHERE rolname = %(role)s", {"role": _READ_ONLY_ROLE}
    ).first()
    if role is not None:
        op.execute(f"GRANT SELECT ON {g}.alarm_annunciations TO {_READ_ONLY_ROLE}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        store = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
        op.execute(f"DROP VIEW IF EXISTS {_grafana_schema(store)}.alarm_annunciations")
