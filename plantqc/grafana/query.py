"""PostgreSQL queries as foundation-SDK data queries, and SQL annotations.

The foundation SDK ships no PostgreSQL query type; this one is registered with the SDK's
runtime so that dashboards holding it decode back (`Dashboard.from_json`) with their SQL.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

DATASOURCE_TYPE = "grafana-postgresql-datasource"
QueryFormat = Literal["time_series", "table"]


class PostgresQuery(cogvariants.Dataquery):
    """A raw-SQL query of Grafana's PostgreSQL datasource (``rawSql`` in code mode)."""

    def __init__(
        self,
        raw_sql: str = "",
        format_val: QueryFormat = "time_series",
        ref_id: str = "A",
        datasource: dashboard.DataSourceRef | None = None,
    ) -> None:
        self.raw_sql = raw_sql
        self.format_val = format_val
        self.ref_id = ref_id
        self.datasource = datasource

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "rawSql": self.raw_sql,
            "format": self.format_val,
            "rawQuery": True,
            "editorMode": "code",
        }
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        source = data.get("datasource")
        return cls(
            raw_sql=data.get("rawSql", ""),
            format_val=data.get("format", "time_series"),
            ref_id=data.get("refId", "A"),
            datasource=dashboard.DataSourceRef.from_json(source) if source else None,
        )


cogruntime.register_dataquery_variant(
    cogruntime.DataqueryConfig(identifier=DATASOURCE_TYPE, from_json_hook=PostgresQuery.from_json)
)


class Postgres(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder of a `PostgresQuery`, for ``panel.with_target``."""

    def __init__(
        self, raw_sql: str, datasource: dashboard.DataSourceRef, fmt: QueryFormat = "time_series"
    ) -> None:
        self._internal = PostgresQuery(raw_sql, fmt, datasource=datasource)

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def build(self) -> PostgresQuery:
        return self._internal


class SqlAnnotationTarget(dashboard.AnnotationTarget):
    """The query of an annotation read from SQL (``time``, ``timeend``, ``text``, ``tags``).

    The SDK's `AnnotationTarget` models only Grafana's built-in annotations, so the SQL rides
    in this subclass; decoding a dashboard with the SDK keeps the annotation but not its SQL.
    """

    def __init__(self, raw_sql: str) -> None:
        super().__init__()
        self.raw_sql = raw_sql

    def to_json(self) -> dict[str, object]:
        return PostgresQuery(self.raw_sql, "table", ref_id="Anno").to_json()


def sql_annotation(
    name: str, raw_sql: str, datasource: dashboard.DataSourceRef, color: str
) -> dashboard.AnnotationQuery:
    """A dashboard annotation whose events come from ``raw_sql``."""
    return dashboard.AnnotationQuery(
        name=name,
        datasource=datasource,
        enable=True,
        icon_color=color,
        target=SqlAnnotationTarget(raw_sql),
    )
