"""Every SQL query the dashboards send, in one place.

Queries read only the ``grafana`` schema (views and rollups created by migration 0002), use
Grafana's PostgreSQL macros, and switch between raw samples and the minute rollup on
``$__interval_ms``: once Grafana asks for buckets of a minute or more, the rollup answers with
the same means, because Grafana's rounded intervals of a minute and above are whole minutes and
sums and counts of minute buckets add up exactly.  The profile heatmap switches once more, to
the hourly profile rollup, from an interval of an hour (whole hours likewise).  The switch is
a constant comparison after macro expansion, so PostgreSQL prunes the branches not taken at
plan time.
"""

from __future__ import annotations

from sqlalchemy import column, table

from plantqc.alarms import kpi
from plantqc.charting.limits import FROZEN_BASIS, in_force_sql
from plantqc.grafana.macros import sql_string

SCHEMA = "grafana"
ROLLUP_FROM_MS = 60_000
"""Smallest ``$__interval_ms`` served from the minute rollup."""
HOURLY_FROM_MS = 3_600_000
"""Smallest ``$__interval_ms`` served from the hourly profile rollup."""
LINE_VARIABLE = "${line:sqlstring}"
ACTIVE_STATES = ("active-unacknowledged", "active-acknowledged", "returned-unacknowledged")
STALE_AFTER_S = 60
LIMITS_VIEW = table(
    "control_limits",
    *(column(name) for name in ("tag_id", "chart", "version", "basis", "center", "lcl", "ucl")),
    *(column(name) for name in ("sigma", "valid_from")),
    schema=SCHEMA,
)
"""The view of the limits versions (migration 0002), as the limits-in-force query reads it."""


def tag_id(tag: str, line: str = LINE_VARIABLE) -> str:
    """Scalar subquery: the id of tag ``tag`` on the line given by SQL expression ``line``."""
    return f"(SELECT id FROM {SCHEMA}.tags WHERE line = {line} AND name = {sql_string(tag)})"


def value_series(tag: str) -> str:
    """Time series of a tag's Good values, averaged per ``$__interval``.

    Columns: ``time`` (epoch s), ``value`` (the tag's unit).  The rollup branch weights each
    minute by its count of Good samples, so both branches return the mean of Good samples.
    """
    tid = tag_id(tag)
    return f"""SELECT $__timeGroupAlias(ts, $__interval), avg(value) AS "value"
FROM {SCHEMA}.samples
WHERE tag_id = {tid} AND good AND $__timeFilter(ts) AND $__interval_ms < {ROLLUP_FROM_MS}
GROUP BY 1
UNION ALL
SELECT $__timeGroupAlias(bucket, $__interval), sum(total) / nullif(sum(n_good), 0) AS "value"
FROM {SCHEMA}.samples_1m
WHERE tag_id = {tid} AND $__timeFilter(bucket) AND $__interval_ms >= {ROLLUP_FROM_MS}
GROUP BY 1
ORDER BY 1"""


def limit_series(tag: str, chart: str) -> str:
    """Center line, control limits and spec limits as step series across the time range.

    Columns: ``time``, ``CL``, ``LCL``, ``UCL``, ``LSL``, ``USL``.  One row at the start of the
    range, one per frozen limits version that came into force inside it and one at the end;
    each row carries the version in force at that time, by the engine's own query
    (`plantqc.charting.limits.in_force_sql`; ``chart`` names the location chart whose limits
    are stored).  The control limits drawn are those of individual values: an I-MR chart's
    stored LCL / UCL (CL +/- ``limit_sigma`` sigma), on the other charts, whose stored limits
    are those of subgroup means or of a smoothed statistic, CL +/- 3 sigma (the natural limits
    of the values) where the version records sigma, else their stored LCL / UCL.
    """
    tid = tag_id(tag)
    lcl, ucl = (
        ("cl.lcl", "cl.ucl")
        if chart == "imr"
        else (
            "coalesce(cl.center - 3 * cl.sigma, cl.lcl)",
            "coalesce(cl.center + 3 * cl.sigma, cl.ucl)",
        )
    )
    in_force = in_force_sql(LIMITS_VIEW, "t.id", chart, "e.time")
    return f"""WITH t AS (SELECT id, lsl, usl FROM {SCHEMA}.tags WHERE id = {tid}),
edges AS (
  SELECT $__timeFrom()::timestamptz AS time
  UNION SELECT valid_from FROM {SCHEMA}.control_limits, t
  WHERE tag_id = t.id AND chart = {sql_string(chart)} AND basis = {sql_string(FROZEN_BASIS)}
    AND $__timeFilter(valid_from)
  UNION SELECT $__timeTo()::timestamptz)
SELECT e.time, cl.center AS "CL",
  {lcl} AS "LCL",
  {ucl} AS "UCL",
  t.lsl AS "LSL", t.usl AS "USL"
FROM edges e CROSS JOIN t
LEFT JOIN LATERAL ({in_force}) cl ON true
ORDER BY 1"""


def last_value(tag: str) -> str:
    """The tag's latest Good value (stat panel). Columns: ``time``, ``value``."""
    return f"""SELECT ts AS "time", value AS "value"
FROM {SCHEMA}.samples
WHERE tag_id = {tag_id(tag)} AND good AND ts <= $__timeTo()::timestamptz
ORDER BY ts DESC LIMIT 1"""


def violations_annotation() -> str:
    """SPC violations of the line as annotations: ``time``, ``text``, ``tags``."""
    return f"""SELECT ts AS "time", tag || ': ' || rule || ' on ' || chart AS "text",
  'spc,' || tag || ',' || rule AS "tags"
FROM {SCHEMA}.violations
WHERE line = {LINE_VARIABLE} AND $__timeFilter(ts)
ORDER BY 1"""


def alarms_annotation() -> str:
    """Alarms of the line as region annotations: ``time``, ``timeend``, ``text``, ``tags``."""
    return f"""SELECT first_at AS "time", last_at AS "timeend",
  priority || ' ' || code || ': ' || message AS "text", 'alarm,' || kind || ',' || state AS "tags"
FROM {SCHEMA}.alarms
WHERE line = {LINE_VARIABLE} AND first_at <= $__timeTo()::timestamptz
  AND last_at >= $__timeFrom()::timestamptz
ORDER BY 1"""


def profile_heatmap(tag: str) -> str:
    """Cross-direction profile over time, long format for a heatmap.

    Columns: ``time``, ``metric`` (position index across the web, zero-padded so the
    heatmap's rows sort), ``value`` (mean over the interval of the position's values in Good
    scans, the tag's unit).

    Notes
    -----
    A scan carries one value per position, so a week of minute buckets is some 10,000 arrays
    and half a million values to sum; from an interval of an hour the hourly rollup answers
    instead (168 arrays a week).  Each branch returns the same means, ``sum(sums[i]) / sum(n)``
    over the buckets inside an interval bucket, because Grafana's rounded intervals from a
    minute up are whole minutes and from an hour up whole hours, and the rollup buckets start
    on multiples of their width since the Unix epoch, as ``$__timeGroup`` buckets do.  A
    rollup bucket counts in the interval bucket holding its start, so over a range that does
    not start on a whole hour the hourly branch leaves out the partial first hour.
    """
    tid = tag_id(tag)
    rollup = """
SELECT $__timeGroupAlias(bucket, $__interval), u.i, sum(u.s) / sum(r.n) AS "value"
FROM {table} r, unnest(r.sums) WITH ORDINALITY AS u(s, i)
WHERE r.tag_id = {tid} AND $__timeFilter(bucket) AND {branch}
GROUP BY 1, 2"""
    minutes = rollup.format(
        table=f"{SCHEMA}.profiles_1m",
        tid=tid,
        branch=f"$__interval_ms >= {ROLLUP_FROM_MS} AND $__interval_ms < {HOURLY_FROM_MS}",
    )
    hours = rollup.format(
        table=f"{SCHEMA}.profiles_1h", tid=tid, branch=f"$__interval_ms >= {HOURLY_FROM_MS}"
    )
    return f"""SELECT "time", lpad(i::text, 3, '0') AS "metric", "value" FROM (
SELECT $__timeGroupAlias(ts, $__interval), u.i, avg(u.v) AS "value"
FROM {SCHEMA}.profiles p, unnest(p."values") WITH ORDINALITY AS u(v, i)
WHERE p.tag_id = {tid} AND p.good AND $__timeFilter(ts) AND $__interval_ms < {ROLLUP_FROM_MS}
GROUP BY 1, 2
UNION ALL{minutes}
UNION ALL{hours}) AS h
ORDER BY 1, i"""


def profile_scan_series(tag: str) -> str:
    """Per-scan statistics of a profile tag, as the engine charts them (``cd_mean``, ``cd_2sigma``).

    Columns: ``time``, ``mean`` (mean across the web of each Good scan, averaged over the
    interval, the tag's unit) and ``two_sigma`` (twice the sample standard deviation across
    the web of each scan, averaged over the interval; ``spc.profile_statistics``).

    Notes
    -----
    The scan mean is exact from the minute rollup too, ``sum(sums) / (n * positions)``, for
    scans of a fixed width.  A spread cannot be recovered from summed profiles, so
    ``two_sigma`` is computed from raw scans only, i.e. for intervals under a minute (ranges
    up to some hours at the panel's point budget); above that it is empty.
    """
    tid = tag_id(tag)
    return f"""SELECT $__timeGroupAlias(ts, $__interval),
  avg(s.m) AS "mean", avg(s.d) AS "two_sigma"
FROM {SCHEMA}.profiles p
CROSS JOIN LATERAL (SELECT avg(v) AS m, 2 * stddev_samp(v) AS d FROM unnest(p."values") AS v) s
WHERE p.tag_id = {tid} AND p.good AND $__timeFilter(ts) AND $__interval_ms < {ROLLUP_FROM_MS}
GROUP BY 1
UNION ALL
SELECT $__timeGroupAlias(bucket, $__interval),
  sum(s.total) / nullif(sum(r.n * s.positions), 0) AS "mean", NULL AS "two_sigma"
FROM {SCHEMA}.profiles_1m r
CROSS JOIN LATERAL (SELECT sum(u) AS total, count(*) AS positions FROM unnest(r.sums) AS u) s
WHERE r.tag_id = {tid} AND $__timeFilter(bucket) AND $__interval_ms >= {ROLLUP_FROM_MS}
GROUP BY 1
ORDER BY 1"""


def image_metrics(nominal_wt_pct: float | None) -> str:
    """Filler metrics of accepted images (keys of `vision.ParticleAnalysis.to_dict`).

    Columns: ``time``, ``agglomerate area fraction`` [-], ``Morisita dispersion index`` [-],
    ``filler loading wt%`` (Delesse estimate), ``nominal wt%`` (the product recipe).
    """
    nominal = "NULL::float8" if nominal_wt_pct is None else repr(float(nominal_wt_pct))
    return f"""SELECT captured_at AS "time",
  (metrics -> 'agglomerates' ->> 'area_fraction')::float8 AS "agglomerate area fraction",
  (metrics -> 'dispersion' ->> 'morisita_index')::float8 AS "Morisita dispersion index",
  (metrics -> 'loading' ->> 'wt_pct')::float8 AS "filler loading wt%",
  {nominal} AS "nominal wt%"
FROM {SCHEMA}.image_results
WHERE line = {LINE_VARIABLE} AND status = 'ok' AND $__timeFilter(captured_at)
  AND ('__all' IN (${{lot:sqlstring}}) OR lot IN (${{lot:sqlstring}}))
ORDER BY 1"""


def alarm_table() -> str:
    """Alarms that are active or changed in the range, with state and acknowledgement."""
    states = ", ".join(sql_string(s) for s in ACTIVE_STATES)
    return f"""SELECT last_at AS "last", first_at AS "first", priority, state, tag, code,
  message, count, acked_by AS "acknowledged by", acked_at AS "acknowledged at", cause
FROM {SCHEMA}.alarms
WHERE line = {LINE_VARIABLE} AND (state IN ({states}) OR $__timeFilter(last_at))
ORDER BY (state IN ({states})) DESC, last_at DESC"""


def sample_age(line: str = LINE_VARIABLE) -> str:
    """Seconds since each scalar tag's latest sample, at the end of the range.

    Columns: ``tag``, ``age_s`` (NULL for a tag that never reported).
    """
    return f"""SELECT t.name AS "tag",
  extract(epoch FROM $__timeTo()::timestamptz - last.ts) AS "age_s"
FROM {SCHEMA}.tags t
LEFT JOIN LATERAL (SELECT ts FROM {SCHEMA}.samples s
  WHERE s.tag_id = t.id AND s.ts <= $__timeTo()::timestamptz
  ORDER BY s.ts DESC LIMIT 1) last ON true
WHERE t.line = {line} AND t.kind = 'scalar'
ORDER BY 2 DESC NULLS FIRST"""


def bad_quality_share() -> str:
    """Share of Bad / Uncertain samples per tag over the range [%], from the minute rollup."""
    return f"""SELECT t.name AS "tag",
  100.0 * (sum(r.n_all) - sum(r.n_good)) / nullif(sum(r.n_all), 0) AS "bad_pct"
FROM {SCHEMA}.tags t JOIN {SCHEMA}.samples_1m r ON r.tag_id = t.id
WHERE t.line = {LINE_VARIABLE} AND $__timeFilter(r.bucket)
GROUP BY t.name
ORDER BY 2 DESC"""


def data_gaps_per_tag() -> str:
    """Data gaps per tag that overlap the range: how many, how long in the range, why.

    A gap is a stretch the edge daemon could not read back from the OPC UA server's history
    (``data_gaps``, recorded by the connector).  Columns: ``tag``, ``gaps``, ``missing_s``
    (seconds of the range inside a gap), ``last_gap_end``, ``reasons``.
    """
    return f"""SELECT t.name AS "tag", count(*) AS "gaps",
  sum(extract(epoch FROM least(g.gap_to, $__timeTo()::timestamptz)
    - greatest(g.gap_from, $__timeFrom()::timestamptz))) AS "missing_s",
  max(g.gap_to) AS "last_gap_end", string_agg(DISTINCT g.reason, '; ') AS "reasons"
FROM {SCHEMA}.data_gaps g JOIN {SCHEMA}.tags t ON t.id = g.tag_id
WHERE t.line = {LINE_VARIABLE}
  AND g.gap_to > $__timeFrom()::timestamptz AND g.gap_from < $__timeTo()::timestamptz
GROUP BY t.name
ORDER BY 3 DESC"""


def line_variable() -> str:
    """Template variable ``line``: the lines in the store."""
    return f"SELECT name AS __text, name AS __value FROM {SCHEMA}.lines ORDER BY name"


def tag_variable() -> str:
    """Template variable ``tag``: the scalar tags of the selected line."""
    return (
        f"SELECT name FROM {SCHEMA}.tags WHERE line = {LINE_VARIABLE} AND kind = 'scalar' "
        "ORDER BY name"
    )


def lot_variable() -> str:
    """Template variable ``lot``: lots of the selected line overlapping the time range."""
    return f"""SELECT code FROM {SCHEMA}.lots
WHERE line = {LINE_VARIABLE} AND started_at <= $__timeTo()::timestamptz
  AND (ended_at IS NULL OR ended_at >= $__timeFrom()::timestamptz)
ORDER BY started_at DESC"""


def selected_tags_series() -> str:
    """Time series of the tags picked in variable ``tag``, one series per tag (``metric``)."""
    return f"""SELECT $__timeGroupAlias(s.ts, $__interval), t.name AS "metric",
  avg(s.value) AS "value"
FROM {SCHEMA}.samples s JOIN {SCHEMA}.tags t ON t.id = s.tag_id
WHERE t.line = {LINE_VARIABLE} AND t.name IN (${{tag:sqlstring}}) AND s.good
  AND $__timeFilter(s.ts) AND $__interval_ms < {ROLLUP_FROM_MS}
GROUP BY 1, 2
UNION ALL
SELECT $__timeGroupAlias(r.bucket, $__interval), t.name AS "metric",
  sum(r.total) / nullif(sum(r.n_good), 0) AS "value"
FROM {SCHEMA}.samples_1m r JOIN {SCHEMA}.tags t ON t.id = r.tag_id
WHERE t.line = {LINE_VARIABLE} AND t.name IN (${{tag:sqlstring}})
  AND $__timeFilter(r.bucket) AND $__interval_ms >= {ROLLUP_FROM_MS}
GROUP BY 1, 2
ORDER BY 1, 2"""


def line_status(line: str) -> str:
    """Overview status of a line: 2 alarm active, 1 data stale, 0 running normally."""
    states = ", ".join(sql_string(s) for s in ACTIVE_STATES)
    return f"""SELECT CASE
  WHEN EXISTS (SELECT 1 FROM {SCHEMA}.alarms WHERE line = {sql_string(line)}
               AND state IN ({states})) THEN 2
  WHEN coalesce((SELECT min(age_s) FROM ({sample_age(sql_string(line))}) a), 1e9)
       > {STALE_AFTER_S} THEN 1
  ELSE 0 END AS "status\""""


def active_alarm_count(line: str) -> str:
    """Number of the line's alarms that are active or returned but unacknowledged."""
    states = ", ".join(sql_string(s) for s in ACTIVE_STATES)
    return f"""SELECT count(*) AS "active alarms" FROM {SCHEMA}.alarms
WHERE line = {sql_string(line)} AND state IN ({states})"""


def capability(line: str) -> str:
    """Cpk and Ppk over the range of the line's tags that have both spec limits.

    Columns: ``tag``, ``n``, ``mean``, ``sigma_within``, ``sigma_overall``, ``Cpk``, ``Ppk``.

    Notes
    -----
    From the minute rollup (whole minutes whose start lies in the range):
    mean = S1 / n, overall s = sqrt((S2 - S1^2 / n) / (n - 1)), and
    Cpk = min(USL - mean, mean - LSL) / (3 sigma_within) with sigma_within the sigma of the
    current control-limits version; Ppk uses the overall s (Montgomery, Introduction to
    Statistical Quality Control, 8th ed., §8.2).
    """
    return f"""WITH k AS (
  SELECT id, name, lsl, usl, chart FROM {SCHEMA}.tags
  WHERE line = {sql_string(line)} AND kind = 'scalar' AND lsl IS NOT NULL AND usl IS NOT NULL),
m AS (
  SELECT k.id, sum(r.n_good)::float8 AS n, sum(r.total) AS s1, sum(r.total_sq) AS s2
  FROM k JOIN {SCHEMA}.samples_1m r ON r.tag_id = k.id AND $__timeFilter(r.bucket)
  GROUP BY k.id HAVING sum(r.n_good) > 1),
st AS (
  SELECT id, n, s1 / n AS mean,
    sqrt(greatest(s2 - s1 * s1 / n, 0) / (n - 1)) AS sigma_overall FROM m)
SELECT k.name AS "tag", st.n AS "n", st.mean AS "mean", cl.sigma AS "sigma_within",
  st.sigma_overall AS "sigma_overall",
  least(k.usl - st.mean, st.mean - k.lsl) / nullif(3 * cl.sigma, 0) AS "Cpk",
  least(k.usl - st.mean, st.mean - k.lsl) / nullif(3 * st.sigma_overall, 0) AS "Ppk"
FROM k JOIN st ON st.id = k.id
LEFT JOIN LATERAL (
  SELECT sigma FROM {SCHEMA}.control_limits c
  WHERE c.tag_id = k.id AND c.chart = k.chart AND c.valid_from <= $__timeTo()::timestamptz
  ORDER BY c.valid_from DESC, c.version DESC LIMIT 1) cl ON true
ORDER BY 1"""


def md_two_sigma_series(tag: str, target: float) -> str:
    """MD 2 sigma of the MD loop's measurement per ``$__interval``, about the loop's target.

    Columns: ``time``, ``MD 2σ`` (the tag's unit): :math:`2 \\sqrt{\\overline{(y - r)^2}}` over
    the interval's Good samples, so an offset from the target counts, as in the lot report and
    `plantqc bench control`.

    Notes
    -----
    Exact from the minute rollup too: the mean square about ``r`` is
    :math:`(S_2 - 2 r S_1 + n r^2) / n` with the bucket sums :math:`S_1`, :math:`S_2` and
    count :math:`n` of Good values (``greatest(.., 0)`` keeps rounding from going negative).
    """
    tid = tag_id(tag)
    r = repr(float(target))
    return f"""SELECT $__timeGroupAlias(ts, $__interval),
  2 * sqrt(avg((value - {r}) * (value - {r}))) AS "MD 2σ"
FROM {SCHEMA}.samples
WHERE tag_id = {tid} AND good AND $__timeFilter(ts) AND $__interval_ms < {ROLLUP_FROM_MS}
GROUP BY 1
UNION ALL
SELECT $__timeGroupAlias(bucket, $__interval),
  2 * sqrt(greatest(sum(total_sq) - 2 * {r} * sum(total) + {r} * {r} * sum(n_good), 0)
    / nullif(sum(n_good), 0)) AS "MD 2σ"
FROM {SCHEMA}.samples_1m
WHERE tag_id = {tid} AND $__timeFilter(bucket) AND $__interval_ms >= {ROLLUP_FROM_MS}
GROUP BY 1
ORDER BY 1"""


def cd_two_sigma_series(tag: str) -> str:
    """CD 2 sigma of a profile tag per ``$__interval``, pooled over the interval's Good scans.

    Columns: ``time``, ``CD 2σ`` (the tag's unit): :math:`2 \\sqrt{\\sum_k SS_k / \\sum_k n_k}`
    with :math:`SS_k` the sum of squared deviations of scan k's values from its own mean and
    :math:`n_k` its values, as in the lot report and `plantqc bench control`.

    Notes
    -----
    A spread about each scan's own mean cannot be recovered from summed profiles, so this
    reads raw scans, for intervals under an hour (ranges up to about two days at the panel's
    point budget); from an hour up it is empty.
    """
    return f"""SELECT $__timeGroupAlias(ts, $__interval),
  2 * sqrt(sum(s.ss) / nullif(sum(s.n), 0)) AS "CD 2σ"
FROM {SCHEMA}.profiles p
CROSS JOIN LATERAL (SELECT count(v) AS n,
  coalesce(var_samp(v) * (count(v) - 1), 0) AS ss FROM unnest(p."values") AS v) s
WHERE p.tag_id = {tag_id(tag)} AND p.good AND $__timeFilter(ts)
  AND $__interval_ms < {HOURLY_FROM_MS}
GROUP BY 1
ORDER BY 1"""


def loop_mode(loop: str) -> str:
    """The loop's mode now: 0 off, 1 advisory, 2 closed, 3 held (on, but an interlock holds it).

    Columns: ``mode`` (the number, mapped to words on the panel), ``hold`` (why, or NULL),
    ``updated`` (when the daemon last saved the loop's state).
    """
    return f"""SELECT CASE
  WHEN mode <> 'off' AND hold IS NOT NULL THEN 3
  WHEN mode = 'closed' THEN 2 WHEN mode = 'advisory' THEN 1 ELSE 0 END AS "mode",
  hold AS "hold", updated AS "updated"
FROM {SCHEMA}.control_loops WHERE loop = {sql_string(loop)}"""


def _setpoint_value(column: str) -> str:
    """A move's setpoint as one number: the value of an MD loop; of a CD loop (a JSON list) the
    largest die bolt away from zero, how hard the loop works the die (their mean says nothing:
    a pre-metered die only redistributes flow)."""
    return f"""CASE jsonb_typeof({column})
  WHEN 'number' THEN ({column} #>> '{{}}')::float8
  WHEN 'array' THEN (SELECT max(abs(e::float8)) FROM jsonb_array_elements_text({column}) AS e)
  END"""


def loop_setpoint(loop: str) -> str:
    """The loop's setpoint over the range, as its applied moves left it (a step series).

    Columns: ``time``, ``setpoint`` (the actuator's unit; the largest ``|die bolt|`` for a CD
    loop).  One row at the start of the range with the setpoint the last applied move before
    it left (NULL when none did), one per applied move inside the range, one at its end.
    """
    loop_sql = sql_string(loop)
    applied = f"{SCHEMA}.control_moves WHERE loop = {loop_sql} AND kind = 'applied'"
    return f"""WITH inside AS (
  SELECT at AS "time", {_setpoint_value("new")} AS setpoint FROM {applied}
  AND $__timeFilter(at)),
before AS (
  SELECT {_setpoint_value("new")} AS setpoint FROM {applied}
  AND at < $__timeFrom()::timestamptz ORDER BY at DESC LIMIT 1)
SELECT $__timeFrom()::timestamptz AS "time", (SELECT setpoint FROM before) AS "setpoint"
UNION ALL SELECT "time", setpoint FROM inside
UNION ALL SELECT $__timeTo()::timestamptz, coalesce(
  (SELECT setpoint FROM inside ORDER BY "time" DESC LIMIT 1), (SELECT setpoint FROM before))
ORDER BY 1"""


def loop_moves(loop: str) -> str:
    """The loop's moves in the range, newest first: proposals, decisions, writes and holds.

    Columns: ``time``, ``kind``, ``old``, ``new`` (setpoints as JSON text), ``user``,
    ``reason``, ``status``.
    """
    return f"""SELECT at AS "time", kind, old::text AS "old", new::text AS "new", "user",
  reason, status
FROM {SCHEMA}.control_moves
WHERE loop = {sql_string(loop)} AND $__timeFilter(at)
ORDER BY at DESC, id DESC"""


def measured_vs_target(tag: str, target: float) -> str:
    """The MD loop's measurement (`value_series`) with its target beside each point.

    Columns: ``time``, ``measured`` (mean of Good samples per interval), ``target`` (the
    loop's target), both in the tag's unit.
    """
    return f"""SELECT m."time", m."value" AS "measured", {float(target)!r} AS "target"
FROM ({value_series(tag)}) AS m
ORDER BY 1"""


def _annunciations(line: str = LINE_VARIABLE) -> str:
    """CTEs ``r`` (the range: ``t0``, ``t1``, ``seconds``, ``periods``) and ``n`` (the line's
    alarm annunciations in it, ``t0 <= at <= t1``), as `plantqc.alarms.kpi.line_kpi` counts
    them; ``periods`` is the number of fixed 10-minute periods from ``t0``, at least one."""
    width = kpi.PERIOD.total_seconds()
    return f"""WITH r AS (
  SELECT $__timeFrom()::timestamptz AS t0, $__timeTo()::timestamptz AS t1,
    extract(epoch FROM $__timeTo()::timestamptz - $__timeFrom()::timestamptz)::float8
      AS seconds,
    greatest(1, ceil(extract(epoch FROM $__timeTo()::timestamptz
      - $__timeFrom()::timestamptz) / {width}))::int AS periods),
n AS (
  SELECT a.tag, a.rule, a.at, extract(epoch FROM a.at - r.t0)::float8 AS offset_s
  FROM {SCHEMA}.alarm_annunciations a, r
  WHERE a.line = {line} AND a.at >= r.t0 AND a.at <= r.t1)"""


def _per_period() -> str:
    """CTE ``c``: the alarms (``alarms``) of each fixed 10-minute period ``k`` that has any;
    one at the range's end falls in the last period."""
    width = kpi.PERIOD.total_seconds()
    return f""",
c AS (
  SELECT least(floor(n.offset_s / {width})::int, r.periods - 1) AS k, count(*) AS alarms
  FROM n, r GROUP BY 1)"""


def alarms_per_hour() -> str:
    """EEMUA 191 average alarm rate: the line's alarms in the range per hour of it (NULL for
    a range of no length).  Column: ``alarms per hour``."""
    return f"""{_annunciations()}
SELECT (SELECT count(*) FROM n)::float8 / nullif(r.seconds / 3600.0, 0) AS "alarms per hour"
FROM r"""


def peak_per_10min() -> str:
    """EEMUA 191 peak alarm rate: the most alarms in one fixed 10-minute period of the range
    (periods from its start).  Column: ``peak per 10 min``."""
    return f"""{_annunciations()}{_per_period()}
SELECT coalesce(max(alarms), 0) AS "peak per 10 min" FROM c"""


def flood_pct() -> str:
    """EEMUA 191 time in flood: the percentage of the range's fixed 10-minute periods with
    more than `plantqc.alarms.kpi.FLOOD_ABOVE` alarms.  Column: ``flood %``."""
    return f"""{_annunciations()}{_per_period()}
SELECT 100.0::float8 * (SELECT count(*) FROM c WHERE alarms > {kpi.FLOOD_ABOVE})::float8
  / r.periods AS "flood %"
FROM r"""


def chattering_count() -> str:
    """Chattering alarms (ISA-18.2 §16.6.4): alarms, one per tag and rule, activated
    `plantqc.alarms.kpi.CHATTER_COUNT` times within `plantqc.alarms.kpi.CHATTER_WITHIN` in
    the range.  Column: ``chattering``."""
    ahead = kpi.CHATTER_COUNT - 1
    within = kpi.CHATTER_WITHIN.total_seconds()
    return f"""{_annunciations()},
w AS (
  SELECT tag, rule,
    lead(offset_s, {ahead}) OVER (PARTITION BY tag, rule ORDER BY offset_s) - offset_s AS span
  FROM n)
SELECT count(*) AS "chattering"
FROM (SELECT DISTINCT tag, rule FROM w WHERE span <= {within}) chattering"""


def top_alarms() -> str:
    """The `plantqc.alarms.kpi.TOP` most frequent alarms (tag and rule) of the range, most
    first, then by tag (a condition of the whole line first) and rule in code point order, as
    `plantqc alarms kpi` lists them.  Columns: ``tag``, ``rule``, ``alarms``."""
    return f"""{_annunciations()}
SELECT tag AS "tag", rule AS "rule", count(*) AS "alarms"
FROM n
GROUP BY tag, rule
ORDER BY 3 DESC, coalesce(tag, '') COLLATE "C", rule COLLATE "C"
LIMIT {kpi.TOP}"""
