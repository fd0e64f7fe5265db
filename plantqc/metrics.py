"""Prometheus metrics and a health endpoint for the daemon, on a loopback HTTP port.

``GET /metrics`` gives the Prometheus text format; ``GET /health`` gives a JSON summary with
HTTP 200 when every line is connected and the buffer is below its alarm level, else 503.
Figures are read from a `DaemonStatus` snapshot at scrape time, so the daemon keeps one set
of counters and the endpoint never disagrees with the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass(frozen=True)
class LineStatus:
    """One line's connector and storage figures."""

    connected: bool
    received: int
    stored: int
    rejected: int
    reconnects: int
    last_error: str | None
    missing_tags: dict[str, str]
    last_sample_at: dict[str, datetime]
    # read-back from the server's history after a restart or reconnect
    backfilled: int = 0  # samples read back and handed on
    backfill_tags_left: int = 0  # tags whose read-back is still running
    gaps: int = 0  # data gaps recorded: stretches the server kept no history of


@dataclass(frozen=True)
class ImageInputStatus:
    """One image input's counts of files since start."""

    processed: int = 0  # measured and stored
    rejected: int = 0  # bad image, unreadable or a name the pattern does not match
    duplicates: int = 0  # content already stored (the same file again)
    queued: int = 0  # complete files waiting for a worker


@dataclass(frozen=True)
class NotifierStatus:
    """One alarm notifier of one line (`plantqc.notifiers`): deliveries since start."""

    line: str
    notifier: str
    published: int = 0  # notifications delivered (MQTT: alarm changes; write-back: writes)
    failed: int = 0  # delivery attempts that failed and will be retried
    last_error: str | None = None


@dataclass(frozen=True)
class DaemonStatus:
    """Everything the metrics and health endpoints report, at one instant."""

    lines: dict[str, LineStatus]
    buffer_depth: int
    buffer_capacity: int
    buffer_refused: int
    buffer_near_full: bool
    database_ok: bool
    ingest_lag_s: float | None
    images: dict[str, ImageInputStatus] = field(default_factory=dict)
    notifiers: dict[str, NotifierStatus] = field(default_factory=dict)  # "<line>/<notifier>"
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def healthy(self) -> bool:
        return (
            all(line.connected for line in self.lines.values())
            and self.database_ok
            and not self.buffer_near_full
        )

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["healthy"] = self.healthy
        return json.loads(json.dumps(data, default=lambda v: v.isoformat()))


class _StatusCollector(Collector):
    def __init__(self, snapshot: Callable[[], DaemonStatus]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        status = self._snapshot()
        per_line = {
            "received": CounterMetricFamily(
                "plantqc_samples_received", "Samples received from the line", labels=["line"]
            ),
            "stored": CounterMetricFamily(
                "plantqc_samples_stored", "Samples newly written to the store", labels=["line"]
            ),
            "rejected": CounterMetricFamily(
                "plantqc_samples_rejected", "Samples that could not be stored", labels=["line"]
            ),
            "reconnects": CounterMetricFamily(
                "plantqc_reconnects", "Connection attempts after a failure", labels=["line"]
            ),
            "backfilled": CounterMetricFamily(
                "plantqc_samples_backfilled",
                "Samples read back from the server's history",
                labels=["line"],
            ),
            "gaps": CounterMetricFamily(
                "plantqc_data_gaps",
                "Data gaps recorded: stretches the server kept no history of",
                labels=["line"],
            ),
        }
        backfill_left = GaugeMetricFamily(
            "plantqc_backfill_tags_pending",
            "Tags whose read-back from the server's history is still running",
            labels=["line"],
        )
        connected = GaugeMetricFamily("plantqc_connected", "1 when subscribed", labels=["line"])
        missing = GaugeMetricFamily(
            "plantqc_missing_tags", "Tags skipped because their node is unknown", labels=["line"]
        )
        age = GaugeMetricFamily(
            "plantqc_last_sample_age_seconds",
            "Seconds since the newest sample of the tag",
            labels=["line", "tag"],
        )
        for name, line in status.lines.items():
            for key, family in per_line.items():
                family.add_metric([name], getattr(line, key))
            connected.add_metric([name], float(line.connected))
            missing.add_metric([name], len(line.missing_tags))
            backfill_left.add_metric([name], line.backfill_tags_left)
            for tag, ts in line.last_sample_at.items():
                age.add_metric([name, tag], (status.at - ts).total_seconds())
        yield from per_line.values()
        yield from (connected, missing, age, backfill_left)
        yield GaugeMetricFamily("plantqc_buffer_depth", "Samples in the queue", status.buffer_depth)
        yield GaugeMetricFamily(
            "plantqc_buffer_capacity", "Bound of the queue, samples", status.buffer_capacity
        )
        yield CounterMetricFamily(
            "plantqc_buffer_refused", "Samples refused by a full queue", status.buffer_refused
        )
        yield GaugeMetricFamily(
            "plantqc_buffer_near_full", "1 past the alarm fraction", float(status.buffer_near_full)
        )
        yield GaugeMetricFamily(
            "plantqc_database_ok",
            "1 when the last store write succeeded",
            float(status.database_ok),
        )
        image_counts = {
            key: CounterMetricFamily(f"plantqc_images_{key}", text, labels=["input"])
            for key, text in (
                ("processed", "Images measured and stored"),
                ("rejected", "Images rejected and moved aside"),
                ("duplicates", "Images whose content was stored already"),
            )
        }
        queued = GaugeMetricFamily(
            "plantqc_images_queued", "Complete images waiting for a worker", labels=["input"]
        )
        for name, image in status.images.items():
            for key, family in image_counts.items():
                family.add_metric([name], getattr(image, key))
            queued.add_metric([name], image.queued)
        yield from (*image_counts.values(), queued)
        notify_counts = {
            key: CounterMetricFamily(
                f"plantqc_notifications_{key}", text, labels=["line", "notifier"]
            )
            for key, text in (
                ("published", "Alarm notifications delivered"),
                ("failed", "Alarm notification attempts that failed (retried)"),
            )
        }
        for notifier in status.notifiers.values():
            for key, family in notify_counts.items():
                family.add_metric([notifier.line, notifier.notifier], getattr(notifier, key))
        yield from notify_counts.values()
        if status.ingest_lag_s is not None:
            yield GaugeMetricFamily(
                "plantqc_ingest_lag_seconds",
                "Source time to stored time of the last stored batch",
                status.ingest_lag_s,
            )


def registry_for(snapshot: Callable[[], DaemonStatus]) -> CollectorRegistry:
    """A registry whose metrics are read from ``snapshot()`` at every scrape."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_StatusCollector(snapshot))
    return registry


async def serve_metrics(
    snapshot: Callable[[], DaemonStatus], host: str, port: int
) -> asyncio.Server:
    """Start the ``/metrics`` and ``/health`` HTTP endpoint; return the listening server."""
    registry = registry_for(snapshot)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ", 2)[1].decode(errors="replace") if b" " in request else ""
            if path == "/metrics":
                code, ctype, body = 200, "text/plain; version=0.0.4", generate_latest(registry)
            elif path == "/health":
                status = snapshot()
                code = 200 if status.healthy else 503
                ctype, body = "application/json", json.dumps(status.to_dict()).encode()
            else:
                code, ctype, body = 404, "text/plain", b"not found: try /metrics or /health\n"
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            head = (
                f"HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, port)
