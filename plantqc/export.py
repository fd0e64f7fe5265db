"""Stored samples to CSV, Parquet or JSON: ``time,value,quality`` rows for offline analysis."""

from __future__ import annotations

import io
import json
import math
from typing import BinaryIO, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from plantqc.quality import status_name

ExportFormat = Literal["csv", "parquet", "json"]


def export_frame(samples: pd.DataFrame) -> pd.DataFrame:
    """``read_samples`` output as export rows: ISO-8601 UTC time, value, quality name."""
    codes = samples["status"].astype("int64")
    names = {code: status_name(int(code)) for code in codes.unique()}
    return pd.DataFrame(
        {
            "time": samples["time"].map(lambda t: t.isoformat(timespec="microseconds")),
            "value": samples["value"].astype("float64"),
            "quality": codes.map(names),
        }
    )


def write_export(samples: pd.DataFrame, fmt: ExportFormat, out: BinaryIO) -> int:
    """Write the samples to ``out`` in ``fmt``; return the number of rows written."""
    rows = export_frame(samples)
    if fmt == "csv":
        text = rows.to_csv(index=False, lineterminator="\n")
        out.write(text.encode("utf-8"))
    elif fmt == "json":
        records = [
            {"time": t, "value": None if math.isnan(v) else v, "quality": q}
            for t, v, q in rows.itertuples(index=False)
        ]
        out.write(json.dumps(records, indent=1).encode("utf-8") + b"\n")
    else:
        table = pa.table(
            {
                "time": pa.array(samples["time"], type=pa.timestamp("us", tz="UTC")),
                "value": pa.array(rows["value"], type=pa.float64()),
                "quality": pa.array(rows["quality"], type=pa.string()),
            }
        )
        buffer = io.BytesIO()  # parquet needs a seekable sink; stdout is not one
        pq.write_table(table, buffer)
        out.write(buffer.getvalue())
    return len(rows)
