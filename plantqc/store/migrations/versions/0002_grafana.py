"""grafana: read-only role, views and rollups

Grafana reads PostgreSQL directly (DESIGN.md), so it gets its own schema holding only what
dashboards query: views over the store's tables and rollups that keep long-range panels fast
(one-minute rollups of scalar samples and of profile scans, and an hourly one of profile scans,
whose 50-odd positions per scan make a week of minute buckets too many for a heatmap).  A
NOLOGIN group role ``plantqc_grafana_ro`` may SELECT from that schema and nothing else, so a
dashboard can never write.

The schema is ``grafana`` beside ``public``; a store migrated into another schema (the store
benchmark's scratch schema) gets ``<schema>_grafana`` so that runs never collide.  SQLite has no
Grafana objects: Grafana's PostgreSQL datasource is the only reader.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# date_bin with a fixed UTC origin: buckets independent of the session time zone, aligned with
# Grafana's $__timeGroup (multiples of the width since the Unix epoch; 2000-01-01 is one)
_BUCKET = "date_bin('{width}', {ts}, timestamptz '2000-01-01 00:00:00+00')"
_PROFILE_ROLLUPS = {"profiles_1m": "1 minute", "profiles_1h": "1 hour"}
"""Profile rollup tables and their bucket widths; long-range heatmaps read the hourly one."""
# literals as they were when this revision was written (a migration must not change meaning when
# the code does): the role `plantqc.grafana.access` grants, and the OPC UA Good severity, any
# status code below 0x40000000 (Part 4 §7.39)
_READ_ONLY_ROLE = "plantqc_grafana_ro"
_GOOD = "status < 1073741824"
_GOOD_VALUE = f"({_GOOD} AND value IS NOT NULL AND value <> 'NaN'::float8)"


def _grafana_schema(store: str) -> str:
    return "grafana" if store == "public" else f"{store}_grafana"


def _views(s: str, g: str) -> list[str]:
    return [
        f"CREATE VIEW {g}.lines AS SELECT id, site, area, name, kind, product FROM {s}.lines",
        f"""CREATE VIEW {g}.tags AS
            SELECT t.id, t.line_id, l.name AS line, t.name, t.kind, t.unit,
                   t.lsl, t.target, t.usl, t.spc ->> 'chart' AS chart
            FROM {s}.tags t JOIN {s}.lines l ON l.id = t.line_id""",
        f"""CREATE VIEW {g}.samples AS
            SELECT tag_id, ts, value, status, {_GOOD_VALUE} AS good FROM {s}.samples""",
        f"""CREATE VIEW {g}.profiles AS
            SELECT tag_id, ts, "values", {_GOOD} AS good FROM {s}.profiles""",
        f"""CREATE VIEW {g}.lots AS
            SELECT lo.id, lo.line_id, l.name AS line, lo.code, lo.product,
                   lo.started_at, lo.ended_at
            FROM {s}.lots lo JOIN {s}.lines l ON l.id = lo.line_id""",
        f"""CREATE VIEW {g}.control_limits AS
            SELECT id, tag_id, chart, version, basis, center, lcl, ucl, sigma, valid_from
            FROM {s}.control_limits""",
        f"""CREATE VIEW {g}.violations AS
            SELECT v.id, t.line_id, l.name AS line, v.tag_id, t.name AS tag,
                   v.chart, v.rule, v.ts, v.value
            FROM {s}.violations v JOIN {s}.tags t ON t.id = v.tag_id
            JOIN {s}.lines l ON l.id = t.line_id""",
        f"""CREATE VIEW {g}.alarms AS
            SELECT a.id, a.line_id, l.name AS line, a.tag_id, t.name AS tag, a.kind, a.code,
                   a.priority, a.state, a.message, a.first_at, a.last_at, a.count,
                   a.acked_by, a.acked_at, a.shelved_until, a.cause
            FROM {s}.alarms a JOIN {s}.lines l ON l.id = a.line_id
            LEFT JOIN {s}.tags t ON t.id = a.tag_id""",
        f"""CREATE VIEW {g}.image_results AS
            SELECT r.id, r.line_id, l.name AS line, lo.code AS lot, ro.code AS roll,
                   r.input_name, r.analysis, r.captured_at, r.status, r.metrics
            FROM {s}.image_results r JOIN {s}.lines l ON l.id = r.line_id
            LEFT JOIN {s}.lots lo ON lo.id = r.lot_id
            LEFT JOIN {s}.rolls ro ON ro.id = r.roll_id""",
    ]


def _profiles_rollup(g: str, table: str, width: str) -> str:
    """Upsert into profile rollup ``table`` the Good scans of ``{source}`` per ``width`` bucket.

    A bucket holds ``n``, the number of Good scans, and ``sums``, their element-wise sum, so
    that position ``i``'s mean over any union of buckets is ``sum(sums[i]) / sum(n)``.
    """
    return f"""
        WITH good AS (
            SELECT tag_id, {_BUCKET.format(width=width, ts="ts")} AS bucket, "values"
            FROM {{source}} WHERE {_GOOD}),
        position AS (
            SELECT tag_id, bucket, u.i, sum(u.v) AS s
            FROM good, unnest("values") WITH ORDINALITY AS u(v, i) GROUP BY 1, 2, 3),
        summed AS (
            SELECT tag_id, bucket, array_agg(s ORDER BY i) AS sums FROM position GROUP BY 1, 2),
        counted AS (SELECT tag_id, bucket, count(*) AS n FROM good GROUP BY 1, 2)
        INSERT INTO {g}.{table} AS r (tag_id, bucket, n, sums)
        SELECT c.tag_id, c.bucket, c.n, s.sums
        FROM counted c JOIN summed s USING (tag_id, bucket) ORDER BY 1, 2
        ON CONFLICT (tag_id, bucket) DO UPDATE SET
            n = r.n + excluded.n,
            sums = ARRAY(SELECT a + b FROM unnest(r.sums, excluded.sums)
                         WITH ORDINALITY AS u(a, b, i) ORDER BY i)"""


def _rollups(s: str, g: str, *, timescale: bool) -> list[str]:
    """Minute rollups, and an hourly one of profiles, kept exact by triggers on every insert.

    On plain PostgreSQL, sums, sums of squares, minima and maxima merge exactly, so a bucket
    written by several insert batches equals the aggregate of its samples; only rows actually
    inserted reach the transition table, so an idempotent replay adds nothing.
    """
    samples_1m = f"""
        INSERT INTO {g}.samples_1m AS r
            (tag_id, bucket, n_all, n_good, total, total_sq, vmin, vmax)
        SELECT tag_id, {_BUCKET.format(width="1 minute", ts="ts")}, count(*),
               count(*) FILTER (WHERE {_GOOD_VALUE}),
               coalesce(sum(value) FILTER (WHERE {_GOOD_VALUE}), 0),
               coalesce(sum(value * value) FILTER (WHERE {_GOOD_VALUE}), 0),
               min(value) FILTER (WHERE {_GOOD_VALUE}), max(value) FILTER (WHERE {_GOOD_VALUE})
        FROM {{source}} GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (tag_id, bucket) DO UPDATE SET
            n_all = r.n_all + excluded.n_all, n_good = r.n_good + excluded.n_good,
            total = r.total + excluded.total, total_sq = r.total_sq + excluded.total_sq,
            vmin = least(r.vmin, excluded.vmin), vmax = greatest(r.vmax, excluded.vmax)"""
    statements = [
        f"""CREATE TABLE {g}.{table} (
            tag_id integer NOT NULL, bucket timestamptz NOT NULL, n integer NOT NULL,
            sums float8[] NOT NULL, PRIMARY KEY (tag_id, bucket))"""
        for table in _PROFILE_ROLLUPS
    ]
    profiles = [_profiles_rollup(g, table, width) for table, width in _PROFILE_ROLLUPS.items()]
    if timescale:
        # hypertables refuse transition tables: samples roll up in a continuous aggregate,
        # profiles (a scan every few seconds) in a row-level trigger
        statements += [
            f"""CREATE MATERIALIZED VIEW {g}.samples_1m WITH (timescaledb.continuous) AS
                SELECT tag_id, time_bucket('1 minute', ts) AS bucket, count(*) AS n_all,
                       count(*) FILTER (WHERE {_GOOD_VALUE}) AS n_good,
                       coalesce(sum(value) FILTER (WHERE {_GOOD_VALUE}), 0) AS total,
                       coalesce(sum(value * value) FILTER (WHERE {_GOOD_VALUE}), 0) AS total_sq,
                       min(value) FILTER (WHERE {_GOOD_VALUE}) AS vmin,
                       max(value) FILTER (WHERE {_GOOD_VALUE}) AS vmax
                FROM {s}.samples GROUP BY 1, 2 WITH NO DATA""",
            f"""SELECT add_continuous_aggregate_policy('{g}.samples_1m',
                start_offset => INTERVAL '1 day', end_offset => NULL,
                schedule_interval => INTERVAL '1 minute')""",
        ]
        triggers = {"profiles": ("ROW", "(SELECT NEW.*) AS new_rows", profiles)}
    else:
        statements.append(
            f"""CREATE TABLE {g}.samples_1m (
            tag_id integer NOT NULL, bucket timestamptz NOT NULL,
            n_all integer NOT NULL, n_good integer NOT NULL,
            total float8 NOT NULL, total_sq float8 NOT NULL, vmin float8, vmax float8,
            PRIMARY KEY (tag_id, bucket))"""
        )
        triggers = {
            "samples": ("STATEMENT", "new_rows", [samples_1m]),
            "profiles": ("STATEMENT", "new_rows", profiles),
        }
    for table, (level, source, rollups) in triggers.items():
        transition = "REFERENCING NEW TABLE AS new_rows" if level == "STATEMENT" else ""
        body = "".join(f"{rollup.format(source=source)};\n" for rollup in rollups)
        statements += [
            f"""CREATE FUNCTION {g}.rollup_{table}() RETURNS trigger LANGUAGE plpgsql AS $body$
                BEGIN {body} RETURN NULL; END $body$""",
            f"""CREATE TRIGGER grafana_rollup AFTER INSERT ON {s}.{table} {transition}
                FOR EACH {level} EXECUTE FUNCTION {g}.rollup_{table}()""",
            # rows stored before this migration
            *(rollup.format(source=f"{s}.{table}") for rollup in rollups),
        ]
    return statements


def _may_create_roles() -> bool:
    return bool(
        op.get_bind()
        .exec_driver_sql(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        .scalar()
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    timescale = bind.exec_driver_sql(
        "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"
    ).first()
    store = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    g = _grafana_schema(store)
    op.execute(f"CREATE SCHEMA {g}")
    for statement in _views(store, g) + _rollups(store, g, timescale=timescale is not None):
        op.execute(statement)
    role_exists = bind.exec_driver_sql(
        "SELECT 1 FROM pg_roles WHERE rolname = %(role)s", {"role": _READ_ONLY_ROLE}
    ).first()
    if role_exists is None and _may_create_roles():
        op.execute(f"CREATE ROLE {_READ_ONLY_ROLE} NOLOGIN")
        role_exists = True
    if role_exists:
        op.execute(f"GRANT USAGE ON SCHEMA {g} TO {_READ_ONLY_ROLE}")
        op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {g} TO {_READ_ONLY_ROLE}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    store = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    for table in ("samples", "profiles"):
        op.execute(f"DROP TRIGGER IF EXISTS grafana_rollup ON {store}.{table}")
    # the role is cluster-wide and may serve other databases: it stays
    op.execute(f"DROP SCHEMA IF EXISTS {_grafana_schema(store)} CASCADE")
