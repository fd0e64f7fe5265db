"""Samples as recordings: long-form CSV, Parquet or JSON rows ``line,tag,source_time,value,status``.

The format `plantqc replay` reads (`plantqc.connectors.replay`), so an export replays into a
store as the same samples: ``source_time`` ISO 8601 UTC to the microsecond (a timezone-aware
UTC timestamp in Parquet), ``value`` float (empty for a sample without one), ``status`` the
OPC UA name of the code where the name gives the code back exactly, else the number.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable
from functools import cache
from typing import BinaryIO, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from plantqc.connectors.replay import RECORDING_COLUMNS, parse_status
from plantqc.quality import status_name

ExportFormat = Literal["csv", "parquet", "json"]


@cache
def status_text(code: int) -> str:
    """``Good``, ``BadSensorFailure`` ...: the OPC UA name when it parses back to ``code``
    exactly; the decimal code when the code carries bits its name does not (limit bits)."""
    name = status_name(code)
    try:
        return name if parse_status(name) == code else str(code)
    except ValueError:
        return str(code)


def recording_frame(line: str, tag: str, samples: pd.DataFrame) -> pd.DataFrame:
    """One tag's samples (``time`` UTC, ``value``, ``status`` code: `read_samples` output) as
    recording rows."""
    codes = samples["status"].astype("int64")
    return pd.DataFrame(
        {
            "line": line,
            "tag": tag,
            "source_time": pd.Series(samples["time"]).dt.tz_convert("UTC"),
            "value": samples["value"].astype("float64"),
            "status": codes.map({int(c): status_text(int(c)) for c in codes.unique()}),
        },
        columns=list(RECORDING_COLUMNS),
    )


def write_recording(frames: Iterable[pd.DataFrame], fmt: ExportFormat, out: BinaryIO) -> int:
    """Write `recording_frame` rows to ``out`` in ``fmt``, oldest first; return the row count."""
    parts = [f for f in frames if len(f)]
    rows = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({c: pd.Series(dtype="object") for c in RECORDING_COLUMNS})
    )
    if parts:
        rows = rows.sort_values("source_time", kind="stable", ignore_index=True)
    if fmt == "parquet":
        table = pa.table(
            {
                "line": pa.array(rows["line"], type=pa.string()),
                "tag": pa.array(rows["tag"], type=pa.string()),
                "source_time": pa.array(rows["source_time"], type=pa.timestamp("us", tz="UTC")),
                "value": pa.array(rows["value"], type=pa.float64()),
                "status": pa.array(rows["status"], type=pa.string()),
            }
        )
        buffer = io.BytesIO()  # parquet needs a seekable sink; stdout is not one
        pq.write_table(table, buffer)
        out.write(buffer.getvalue())
        return len(rows)
    times = [t.isoformat(timespec="microseconds") for t in rows["source_time"]]
    if fmt == "csv":
        text = rows.assign(source_time=times).to_csv(index=False, lineterminator="\n")
        out.write(text.encode("utf-8"))
    else:
        records = [
            {
                "line": line,
                "tag": tag,
                "source_time": t,
                "value": None if math.isnan(v) else v,
                "status": s,
            }
            for (line, tag, _, v, s), t in zip(rows.itertuples(index=False), times, strict=True)
        ]
        out.write(json.dumps(records, indent=1).encode("utf-8") + b"\n")
    return len(rows)
