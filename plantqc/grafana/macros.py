"""What Grafana does to a PostgreSQL panel's SQL before the database sees it.

Three steps, in Grafana's order: the frontend substitutes template variables; the backend's
``sqleng.Interpolate`` substitutes ``$__interval`` / ``$__interval_ms`` / ``$__unixEpochFrom()``
/ ``$__unixEpochTo()``; the PostgreSQL macro engine expands every ``$__name(args)``.  The
functions here reproduce those steps so that every generated query can be run for real against
PostgreSQL (tests, benchmark) exactly as Grafana would send it.

References
----------
.. [1] Grafana, pkg/tsdb/grafana-postgresql-datasource/macros.go (postgresMacroEngine).
.. [2] Grafana, pkg/tsdb/sqleng/sql_engine.go (Interpolate) and
   grafana-plugin-sdk-go backend/gtime (ParseInterval, FormatInterval).
.. [3] Grafana, pkg/tsdb/intervalv2/intervalv2.go (Calculate, roundInterval).
.. [4] Grafana docs, "Variable syntax": advanced formatting options (``sqlstring``, ``raw``)
   and public/app/features/plugins/sql/datasource/SqlDatasource.ts (interpolateVariable).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from plantqc.errors import UserError

ALL = object()
"""Value of a variable whose "All" option is selected."""

DEFAULT_MAX_DATA_POINTS = 1500  # intervalv2.DefaultRes

_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_UNITS_MS |= {"w": 7 * _UNITS_MS["d"], "y": 365 * _UNITS_MS["d"]}
_INTERVAL = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
# intervalv2.roundInterval: (upper bound, rounded interval), both in ms
_ROUNDING = (
    (10, 1),
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1_500, 1_000),
    (3_500, 2_000),
    (7_500, 5_000),
    (12_500, 10_000),
    (17_500, 15_000),
    (25_000, 20_000),
    (45_000, 30_000),
    (90_000, 60_000),
    (210_000, 120_000),
    (450_000, 300_000),
    (750_000, 600_000),
    (1_050_000, 900_000),
    (1_500_000, 1_200_000),
    (2_700_000, 1_800_000),
    (5_400_000, 3_600_000),
    (9_000_000, 7_200_000),
    (16_200_000, 10_800_000),
    (32_400_000, 21_600_000),
    (86_400_000, 43_200_000),
    (172_800_000, 86_400_000),
    (604_800_000, 86_400_000),
    (1_814_400_000, 604_800_000),
)
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


@dataclass(frozen=True)
class TimeRange:
    """A dashboard time range and the interval Grafana computed for it."""

    start: datetime
    end: datetime
    interval_ms: int

    @classmethod
    def for_panel(
        cls,
        start: datetime,
        end: datetime,
        max_data_points: int | None = None,
        min_interval: str = "1s",
    ) -> TimeRange:
        """The range with the interval Grafana's backend computes for a panel [3]_.

        Parameters
        ----------
        start, end : datetime
            Time range, timezone-aware.
        max_data_points : int, optional
            The panel's ``maxDataPoints`` (its width in pixels when unset in Grafana; 1500
            here, Grafana's default resolution).
        min_interval : str
            The datasource's or query's minimum interval, e.g. ``"1s"``.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise UserError("a Grafana time range needs timezone-aware start and end times.")
        if end <= start:
            raise UserError(f"time range end {end.isoformat()} is not after its start.")
        floor = parse_interval_ms(min_interval)
        points = max_data_points or DEFAULT_MAX_DATA_POINTS
        calculated = (end - start) / timedelta(milliseconds=1) / points
        interval = floor if calculated < floor else round_interval_ms(calculated)
        return cls(start, end, interval)


def parse_interval_ms(text: str) -> int:
    """Milliseconds of a Grafana interval such as ``'5m'`` (gtime.ParseInterval) [2]_."""
    match = _INTERVAL.match(text.strip().strip("'"))
    if match is None:
        raise UserError(f"interval {text!r} is not a Grafana interval such as 1s, 5m or 1h.")
    return int(match.group(1)) * _UNITS_MS[match.group(2)]


def round_interval_ms(interval_ms: float) -> int:
    """Grafana's roundInterval: the "nice" interval a computed one snaps to [3]_."""
    for bound, rounded in _ROUNDING:
        if interval_ms <= bound:
            return rounded
    return 30 * _UNITS_MS["d"] if interval_ms < 3_628_800_000 else _UNITS_MS["y"]


def format_interval(interval_ms: int) -> str:
    """gtime.FormatInterval: the largest whole unit, truncating (``90 s`` -> ``1m``) [2]_."""
    for unit in ("y", "d", "h", "m", "s", "ms"):
        if interval_ms >= _UNITS_MS[unit]:
            return f"{interval_ms // _UNITS_MS[unit]}{unit}"
    return "1ms"


def _rfc3339(ts: datetime) -> str:
    # Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped, "Z" suffix
    text = ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{ts.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def _go_float(seconds: float) -> str:
    # fmt %v of a float64: shortest representation, no trailing ".0"
    text = repr(float(seconds))
    return text[:-2] if text.endswith(".0") else text


def _epoch(ts: datetime) -> int:
    return int(ts.timestamp() // 1)


def _macro(name: str, args: list[str], time_range: TimeRange) -> str:
    start, end = time_range.start, time_range.end
    if name in ("__time", "__timeEpoch", "__timeFilter", "__unixEpochFilter") and not args[0]:
        raise UserError(f"macro ${name} needs a time column argument.")
    if name == "__time":
        return f'{args[0]} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {args[0]}) as "time"'
    if name == "__timeFilter":
        return f"{args[0]} BETWEEN '{_rfc3339(start)}' AND '{_rfc3339(end)}'"
    if name == "__timeFrom":
        return f"'{_rfc3339(start)}'"
    if name == "__timeTo":
        return f"'{_rfc3339(end)}'"
    if name in ("__timeGroup", "__timeGroupAlias"):
        if len(args) < 2:
            raise UserError(f"macro ${name} needs a time column and an interval.")
        seconds = _go_float(parse_interval_ms(args[1]) / 1000)
        group = f"floor(extract(epoch from {args[0]})/{seconds})*{seconds}"
        return f'{group} AS "time"' if name == "__timeGroupAlias" else group
    if name == "__unixEpochFilter":
        return f"{args[0]} >= {_epoch(start)} AND {args[0]} <= {_epoch(end)}"
    raise UserError(f"unknown macro ${name} in a PostgreSQL query.")


def expand_macros(sql: str, time_range: TimeRange) -> str:
    """Expand Grafana's global substitutions [2]_, then the PostgreSQL macros [1]_.

    Parameters
    ----------
    sql : str
        Query text after template-variable interpolation.
    time_range : TimeRange
        Dashboard time range and computed interval.

    Notes
    -----
    ``$__timeFilter(c)`` becomes ``c BETWEEN 'from' AND 'to'`` (RFC 3339, UTC, both ends
    inclusive); ``$__timeGroup(c, i)`` becomes ``floor(extract(epoch from c)/s)*s`` with ``s``
    the interval in seconds, and ``$__timeGroupAlias`` appends ``AS "time"``.  As in Grafana,
    a ``$__timeGroup(...)`` directly followed by a comma is taken as ``$__timeGroupAlias``.
    """
    interval = time_range.interval_ms
    sql = sql.replace("$__interval_ms", str(interval))
    sql = sql.replace("$__interval", format_interval(interval))
    sql = sql.replace("$__unixEpochFrom()", str(_epoch(time_range.start)))
    sql = sql.replace("$__unixEpochTo()", str(_epoch(time_range.end)))
    original = sql

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "__timeGroup":
            index = original.find(match.group(0)) + len(match.group(0))
            if index < len(original) and original[index] == ",":
                name = "__timeGroupAlias"
        args = [arg.strip(" ") for arg in match.group(2).split(",")]
        return _macro(name, args, time_range)

    return _MACRO.sub(replace, sql)


def sql_string(value: str) -> str:
    """A SQL string literal: single quotes around, inner quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


VariableValue = str | Sequence[str] | object


def interpolate_variables(
    sql: str,
    values: Mapping[str, VariableValue],
    all_values: Mapping[str, str] | None = None,
) -> str:
    """Substitute dashboard variables the way Grafana's frontend does for SQL datasources [4]_.

    Parameters
    ----------
    sql : str
        Query text with ``$name``, ``${name}`` or ``${name:format}`` references.
    values : mapping
        Current value of each variable: a string, a list of strings (multi-value) or `ALL`.
    all_values : mapping, optional
        Custom "All" value of variables that define one; it is inserted unformatted.

    Notes
    -----
    ``sqlstring`` quotes each value and joins them with commas; ``raw`` inserts values as they
    are; without a format a single value is inserted with quotes doubled but unquoted and a
    multi-value is quoted and joined, as SqlDatasource.interpolateVariable does.
    """
    all_values = all_values or {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name.startswith("__") or name not in values:
            return match.group(0)
        fmt = match.group(2)
        value = values[name]
        if value is ALL:
            if name not in all_values:
                raise UserError(f"variable {name!r} is set to All but has no custom all value.")
            return all_values[name]
        items = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
        if fmt == "raw":
            return ",".join(items)
        if fmt == "sqlstring" or not isinstance(value, str):
            return ",".join(sql_string(item) for item in items)
        if fmt is not None:
            raise UserError(f"variable format {fmt!r} is not supported for SQL queries here.")
        return value.replace("'", "''")

    return _VARIABLE.sub(replace, sql)


def grafana_sql(
    sql: str,
    time_range: TimeRange,
    values: Mapping[str, VariableValue],
    all_values: Mapping[str, str] | None = None,
) -> str:
    """The SQL Grafana sends to PostgreSQL: variables first, then macros."""
    return expand_macros(interpolate_variables(sql, values, all_values), time_range)
