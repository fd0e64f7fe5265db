"""OPC UA connector: subscriptions per tag, readings with source time and status, reconnects.

One `OpcUaConnector` per line, an `plantqc.connectors.Input`.  It connects, resolves ``nsu=``
namespace URIs to the indices the server uses *now* (they change when a server restarts),
creates one monitored item per tag (sampling interval, queue size and deadband from the
config, OPC UA Part 4 §5.12 and §7.22.2), and hands the notifications to a sink as batches
of `Reading`s, one batch per publish response (what the server sent together).  A tag whose
node is unknown to the server is reported and skipped; the others keep flowing.  When the
connection is lost, it reconnects with capped exponential backoff and re-creates the
subscription from scratch.  Its settings are `plantqc.connectors.opcua_settings`.

Backfill: per tag a watermark, the newest sample already kept (from the store and the
buffer at start, `OpcUaConnector.resume_after`, then what it handed on).  On every
(re)connection, a tag's new notifications are held back while what lies between its watermark
and its first new value is read from the server's history (HistoryReadRawModified, OPC UA
Part 11 §6.4.3; in pages, continuation points followed, rate-limited, at most
``backfill.max_window_s`` back) and handed on marked as backfilled; then the held values
follow, so each tag's readings reach the sink in time order.  A node without history (its
UserAccessLevel lacks HistoryRead), a refused history read, a stretch beyond the window, or
history that does not reach back to the watermark is recorded as a data gap
(`plantqc.buffer.gap_reading`) bounded by the last kept sample and the first one after it,
when the two are more than two sampling intervals apart.

Security: None, or Basic256Sha256 with Sign / SignAndEncrypt (OPC 10000-7, Basic256Sha256
profile), a client certificate made by ``plantqc opcua cert`` and the server certificate
checked against a trust folder (pinned on first use per server address only when the config
says so); username / password come from environment variables.  A refused identity or
certificate is one sentence naming the cause in `ConnectorState.last_error`, and the
connector keeps retrying with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy
from asyncua.crypto import security_policies, uacrypto
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from plantqc.buffer import Reading, gap_reading
from plantqc.config import Line, Tag
from plantqc.connectors import InputState, ReadingSink
from plantqc.connectors.certs import fingerprint, first_use_pin, is_trusted, trust_on_first_use
from plantqc.connectors.opcua_settings import OpcUaSecurity
from plantqc.errors import UserError
from plantqc.quality import is_good
from plantqc.schema import env_secret
from plantqc.store.models import TimestampOrigin

log = logging.getLogger(__name__)

BACKFILL_KINDS = ("scalar", "profile")
"""Tags whose history is read back: those whose watermark is a stored sample time."""
PROGRESS_LOG_S = 5.0
"""Least time between two progress lines of one tag's read-back, s."""
GAP_INTERVALS = 2
"""A stretch longer than this many sampling intervals without a kept value is a data gap."""
BAD_TYPE_MISMATCH = int(ua.StatusCodes.BadTypeMismatch)
BAD_OUT_OF_RANGE = int(ua.StatusCodes.BadOutOfRange)
_DEADBAND_TYPE = {"absolute": ua.DeadbandType.Absolute, "percent": ua.DeadbandType.Percent}
_SECURITY_ERRORS = {
    "BadUserAccessDenied": "the server rejected the user name or password",
    "BadIdentityTokenInvalid": "the server rejected the user name or password",
    "BadIdentityTokenRejected": "the server rejected the user name or password",
    "BadCertificateUntrusted": "the server does not trust this client's certificate",
    "BadSecurityChecksFailed": "the server's security checks failed (is this client's "
    "certificate trusted there?)",
    "BadCertificateInvalid": "the server rejected this client's certificate as invalid",
}


class SecurityProblem(Exception):
    """The connection's security cannot be set up; the message is one sentence saying why."""


class ServerNotTrusted(SecurityProblem):
    """The server's certificate is not trusted.

    It is not in the trust folder, and trust on first use is off or has already pinned a
    different certificate for the server's address.
    """


# --- notifications to readings -----------------------------------------------------------------


def _timestamp(data: ua.DataValue, received_at: datetime) -> tuple[datetime, int]:
    # DESIGN.md: SourceTimestamp is the sample time; server or receive time only as fallbacks
    if data.SourceTimestamp is not None:
        ts, origin = data.SourceTimestamp, TimestampOrigin.SOURCE
    elif data.ServerTimestamp is not None:
        ts, origin = data.ServerTimestamp, TimestampOrigin.SERVER
    else:
        ts, origin = received_at, TimestampOrigin.RECEIVE
    return (ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)), int(origin)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, str)


def to_reading(line: str, tag: Tag, data: ua.DataValue, received_at: datetime) -> Reading:
    """The `Reading` of one data change of ``tag``.

    The status code is kept as the server sent it, except that a Good value that cannot
    be stored as the tag's kind becomes Bad: a non-number (or an array on a scalar tag)
    ``BadTypeMismatch``, a NaN or infinite number ``BadOutOfRange`` (OPC UA Part 4 §7.39),
    with the value dropped, so SPC statistics never see it.
    """
    ts, origin = _timestamp(data, received_at)
    status = int(data.StatusCode.value) if data.StatusCode is not None else 0
    raw = data.Value.Value if data.Value is not None else None
    reading = Reading(line, tag.name, tag.kind, ts, origin, status)

    def bad(code: int) -> int:
        return code if is_good(status) else status

    if raw is None:
        return reading
    if tag.kind in ("lot_id", "roll_id"):
        if isinstance(raw, str):
            return reading._replace(text=raw)
        return reading._replace(status=bad(BAD_TYPE_MISMATCH))
    if tag.kind == "profile":
        if not isinstance(raw, list | tuple) or not all(_is_number(v) for v in raw):
            return reading._replace(status=bad(BAD_TYPE_MISMATCH))
        values = tuple(float(v) for v in raw)
        if not all(math.isfinite(v) for v in values):
            return reading._replace(status=bad(BAD_OUT_OF_RANGE))
        return reading._replace(values=values)
    if not _is_number(raw):
        return reading._replace(status=bad(BAD_TYPE_MISMATCH))
    value = float(raw)
    if not math.isfinite(value):
        return reading._replace(status=bad(BAD_OUT_OF_RANGE))
    return reading._replace(value=value)


# --- node ids ----------------------------------------------------------------------------------


def resolve_node_id(tag: Tag, namespaces: list[str]) -> ua.NodeId:
    """The tag's NodeId on a server whose namespace array is ``namespaces``.

    Raises `KeyError` with a sentence when an ``nsu=`` URI is not on the server.
    """
    spec = tag.parsed_node_id
    if spec.namespace_uri is not None:
        if spec.namespace_uri not in namespaces:
            raise KeyError(f"namespace {spec.namespace_uri} is not on the server")
        index = namespaces.index(spec.namespace_uri)
    else:
        index = spec.namespace_index or 0
    identifier: Any = spec.identifier
    if spec.identifier_type == "i":
        identifier = int(identifier)
    elif spec.identifier_type == "g":
        identifier = uuid.UUID(identifier)
    elif spec.identifier_type == "b":
        identifier = identifier.encode()
    return ua.NodeId(identifier, index)


def describe_error(exc: BaseException, endpoint: str) -> str:
    """One sentence naming why a connection to ``endpoint`` failed."""
    if isinstance(exc, SecurityProblem):
        return str(exc)
    if isinstance(exc, ua.UaStatusCodeError):
        name = ua.StatusCode(exc.code).name
        reason = _SECURITY_ERRORS.get(name)
        if reason is not None:
            return f"cannot connect to {endpoint}: {reason} ({name})"
        return f"cannot connect to {endpoint}: the server answered {name}"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot reach the OPC UA server at {endpoint}: connection refused"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"cannot reach the OPC UA server at {endpoint}: no answer (timed out)"
    if isinstance(exc, OSError):
        return f"cannot reach the OPC UA server at {endpoint}: {exc.strerror or exc}"
    return f"connection to {endpoint} failed: {type(exc).__name__}: {exc}"


# --- security ----------------------------------------------------------------------------------


async def configure_security(client: Client, security: OpcUaSecurity, base_dir: Path) -> None:
    """Set the client's identity and channel security from the line's config.

    The server certificate offered at the endpoint must already be in the trust folder,
    unless ``trust_on_first_use`` is set, in which case the first one seen at the endpoint's
    host and port is pinned there (`plantqc.connectors.certs.trust_on_first_use`) and any
    other certificate at that address is refused later, as SSH does with known hosts.

    Raises
    ------
    SecurityProblem
        The server offers no endpoint with the configured policy and mode, or its
        certificate is not trusted (`ServerNotTrusted`); the message names the cause.
    UserError
        The client certificate or key file is missing, or a credential variable is unset.
    """
    if security.username_env and security.password_env:
        client.set_user(env_secret(security.username_env, "opcua.security.username_env"))
        client.set_password(env_secret(security.password_env, "opcua.security.password_env"))
    if security.policy == "None":
        return
    assert security.certificate is not None and security.private_key is not None
    cert_path = _resolve(security.certificate, base_dir)
    key_path = _resolve(security.private_key, base_dir)
    for path in (cert_path, key_path):
        if not path.is_file():
            raise UserError(
                f"OPC UA client certificate file {path} does not exist; "
                "make it with 'plantqc opcua cert'."
            )
    own = await uacrypto.load_certificate(str(cert_path))
    uris = own.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    client.application_uri = uris.get_values_for_type(x509.UniformResourceIdentifier)[0]
    mode = getattr(ua.MessageSecurityMode, security.mode)
    policy = security_policies.SecurityPolicyBasic256Sha256
    endpoints = await client.connect_and_get_server_endpoints()
    endpoint = _find_endpoint(endpoints, mode, policy.URI, client.server_url.geturl())
    server_cert = uacrypto.x509_from_der(endpoint.ServerCertificate)
    folder = _resolve(security.trust_folder or Path("pki/trusted"), base_dir)
    if not is_trusted(server_cert, folder):
        url = client.server_url.geturl()
        pinned = first_use_pin(folder, url)
        if not security.trust_on_first_use or pinned is not None:
            raise ServerNotTrusted(_untrusted_reason(url, server_cert, folder, pinned))
        stored = trust_on_first_use(server_cert, folder, url)
        log.warning(
            "trusting the server certificate on first use",
            extra={"endpoint": url, "file": str(stored)},
        )
    await client.set_security(
        policy,
        str(cert_path),
        str(key_path),
        server_certificate=server_cert.public_bytes(Encoding.DER),
        mode=mode,
    )


def _find_endpoint(
    endpoints: list[ua.EndpointDescription],
    mode: ua.MessageSecurityMode,
    policy_uri: str,
    url: str,
) -> ua.EndpointDescription:
    for endpoint in endpoints:
        if (
            endpoint.EndpointUrl.startswith(ua.OPC_TCP_SCHEME)
            and endpoint.SecurityMode == mode
            and endpoint.SecurityPolicyUri == policy_uri
        ):
            return endpoint

    def name(e: ua.EndpointDescription) -> str:
        policy = e.SecurityPolicyUri.rsplit("#", 1)[-1]
        return (
            policy
            if e.SecurityMode == ua.MessageSecurityMode.None_
            else (f"{policy} {e.SecurityMode.name}")
        )

    offered = ", ".join(sorted({name(e) for e in endpoints})) or "nothing"
    wanted = f"{policy_uri.rsplit('#', 1)[-1]} {mode.name}"
    raise SecurityProblem(
        f"cannot connect to {url}: the server offers no {wanted} endpoint (it offers {offered})"
    )


def _untrusted_reason(
    url: str, certificate: x509.Certificate, folder: Path, pinned: Path | None
) -> str:
    named = (
        f"the server certificate of {url} ({certificate.subject.rfc4514_string()}, "
        f"SHA-256 {fingerprint(certificate)})"
    )
    if pinned is None:
        return (
            f"{named} is not trusted: it is not in the trust folder {folder}; "
            "copy it there or set trust_on_first_use"
        )
    return (
        f"{named} is not trusted: it differs from the one trusted on first use ({pinned}); "
        f"if the server's certificate was replaced on purpose, delete {pinned.name} or copy "
        f"the new certificate into {folder}"
    )


def _resolve(path: Path, base_dir: Path) -> Path:
    return path if path.is_absolute() else base_dir / path


# --- the connector -----------------------------------------------------------------------------


class OpcUaConnector:
    """Subscribes to one line's tags and hands their data changes to ``sink`` in batches.

    Parameters
    ----------
    line : Line
        The line config: endpoint, security, publishing interval, queue size and tags.
    sink : ReadingSink
        Called with each batch of `Reading`s, on the event loop; must not block.
    base_dir : Path
        Folder relative certificate paths are taken from (the config file's folder).
    backoff_initial_s, backoff_max_s : float
        First wait after a failed or lost connection, s, doubled on each failure up to
        ``backoff_max_s``.
    endpoint : str, optional
        Use this endpoint instead of the config's.
    """

    def __init__(
        self,
        line: Line,
        sink: ReadingSink,
        *,
        base_dir: Path = Path("."),
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        request_timeout_s: float = 4.0,
        endpoint: str | None = None,
    ) -> None:
        if not 0 < backoff_initial_s <= backoff_max_s:
            raise ValueError("backoff must satisfy 0 < initial <= max")
        self.config = line
        self.line = line.name
        self.endpoint = endpoint or line.opcua.endpoint
        self.state = InputState()
        self._sink = sink
        self._batch: list[Reading] = []
        self._base_dir = base_dir
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._timeout = request_timeout_s
        # per tag: the newest sample kept (stored, buffered or handed on)
        self._watermarks: dict[str, datetime] = {}
        self._node_ids: dict[str, ua.NodeId] = {}
        # tags whose new notifications wait for their read-back, and what they hold
        self._holding: dict[str, list[Reading]] = {}
        # per tag: where a possible gap starts and why, closed by the next reading handed on
        self._open_gaps: dict[str, tuple[datetime, str]] = {}
        self._rate = _RateLimit(line.opcua.backfill.max_values_per_s)

    def resume_after(self, newest: Mapping[str, datetime]) -> None:
        """Set the watermark of each tag named in ``newest`` (newest kept sample, UTC)."""
        for name, ts in newest.items():
            if name not in self._watermarks or ts > self._watermarks[name]:
                self._watermarks[name] = ts

    async def run(self, stop: asyncio.Event) -> None:
        """Stay subscribed until ``stop`` is set, reconnecting after any loss."""
        delay = self._backoff[0]
        while not stop.is_set():
            established = False
            try:
                established = await self._session(stop)
            except UserError:
                raise
            except Exception as exc:
                self.state.last_error = describe_error(exc, self.endpoint)
                log.warning(
                    "opcua connection failed",
                    extra={"line": self.line, "reason": self.state.last_error},
                )
            self.state.connected = False
            if stop.is_set():
                break
            if established:
                delay = self._backoff[0]
            self.state.reconnects += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, self._backoff[1])
        self._hand_on()  # what the last session received, before the caller goes on

    async def _session(self, stop: asyncio.Event) -> bool:
        client = Client(self.endpoint, timeout=self._timeout, watchdog_intervall=1.0)
        client.session_timeout = 30_000
        lost = asyncio.Event()

        async def on_lost(_exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        await configure_security(client, self.config.opcua.security, self._base_dir)
        await client.connect()
        try:
            # held from the first notification on: the read-back goes before them
            self._holding = {
                tag.name: []
                for tag in self.config.tags
                if self.config.opcua.backfill.enabled
                and tag.kind in BACKFILL_KINDS
                and tag.name in self._watermarks
            }
            handles = await self._subscribe(client)
            for name in self.state.missing:
                self._holding.pop(name, None)
            self.state.backfill_tags_left = len(self._holding)
            self.state.connected = True
            self.state.last_error = None
            log.info(
                "opcua subscribed",
                extra={"line": self.line, "tags": len(handles), "endpoint": self.endpoint},
            )
            backfill = asyncio.create_task(self._backfill(client))
            waiters = [
                asyncio.create_task(stop.wait()),
                asyncio.create_task(lost.wait()),
                asyncio.create_task(self._consume(handles)),
                backfill,
            ]
            try:
                while True:
                    done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                    if done != {backfill} or backfill.exception() is not None:
                        break
                    waiters.remove(backfill)  # finished: the session goes on
            finally:
                for task in waiters:
                    task.cancel()
                await asyncio.gather(*waiters, return_exceptions=True)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            await self._drain_queued(handles)
            if lost.is_set() and not stop.is_set():
                raise ConnectionError("the connection to the server was lost")
            return True
        finally:
            # Values held for a read-back that did not finish are dropped, not handed on:
            # handing them on would move the watermark past what was not read back yet.
            # They are in the server's history, so the next read-back gets them.
            self._holding = {}
            self.state.backfill_tags_left = 0
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), self._timeout)

    async def _subscribe(self, client: Client) -> dict[int, Tag]:
        opcua = self.config.opcua
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = opcua.publishing_interval_ms
        params.RequestedLifetimeCount = 10_000
        params.RequestedMaxKeepAliveCount = client.get_keepalive_count(opcua.publishing_interval_ms)
        params.PublishingEnabled = True
        self._subscription = await client.create_subscription(
            params, queue_maxsize=1_000_000, overflow=OverflowPolicy.WARN
        )
        namespaces = await client.get_namespace_array()
        requests, tags = [], {}
        self.state.missing.clear()
        for handle, tag in enumerate(self.config.tags, start=1):
            try:
                node_id = resolve_node_id(tag, namespaces)
            except KeyError as exc:
                self._report_missing(tag, str(exc.args[0]))
                continue
            requests.append(_monitored_item(handle, node_id, tag, opcua.queue_size))
            tags[handle] = tag
            self._node_ids[tag.name] = node_id
        results = await self._subscription.create_monitored_items(requests) if requests else []
        for request, result in zip(requests, results, strict=True):
            if isinstance(result, ua.StatusCode):
                tag = tags.pop(request.RequestedParameters.ClientHandle)
                self._report_missing(tag, f"the server answered {result.name}")
        return tags

    def _report_missing(self, tag: Tag, reason: str) -> None:
        self.state.missing[tag.name] = reason
        log.warning(
            "opcua tag skipped",
            extra={
                "line": self.line,
                "tag": tag.name,
                "node_id": tag.node_id,
                "reason": reason,
            },
        )

    async def _consume(self, handles: dict[int, Tag]) -> None:
        async for event in self._subscription:
            self._handle(event, handles)

    async def _drain_queued(self, handles: dict[int, Tag]) -> None:
        # notifications received before a loss or a stop are data too: hand them on
        with contextlib.suppress(StopAsyncIteration):
            while (event := await self._subscription.next_event(timeout=0.05)) is not None:
                self._handle(event, handles)

    def _handle(self, event: object, handles: dict[int, Tag]) -> None:
        if not isinstance(event, DataChangeEvent):
            return
        item = event.data.monitored_item
        tag = handles.get(item.ClientHandle)
        if tag is None:
            return
        reading = to_reading(self.line, tag, item.Value, datetime.now(UTC))
        held = self._holding.get(tag.name)
        if held is not None:
            held.append(reading)
            return
        if not self._batch:
            # handed on once the loop is free: after the rest of this publish response,
            # which the subscription queues all at once
            asyncio.get_running_loop().call_soon(self._hand_on)
        self._append(reading)

    def _append(self, reading: Reading) -> None:
        opened = self._open_gaps.pop(reading.tag, None)
        if opened is not None:
            start, reason = opened
            tag = self.config.tag(reading.tag)
            if reading.ts - start > timedelta(
                milliseconds=GAP_INTERVALS * tag.sampling_interval_ms
            ):
                self._batch.append(gap_reading(self.line, reading.tag, start, reading.ts, reason))
                log.warning(
                    "opcua data gap",
                    extra={
                        "line": self.line,
                        "tag": reading.tag,
                        "from": start.isoformat(),
                        "to": reading.ts.isoformat(),
                        "reason": reason,
                    },
                )
        self._batch.append(reading)
        watermark = self._watermarks.get(reading.tag)
        if watermark is None or reading.ts > watermark:
            self._watermarks[reading.tag] = reading.ts

    def _hand_on(self) -> None:
        batch, self._batch = self._batch, []
        if batch:  # empty when run() handed it on already, at its end
            self.state.handed_on(batch)
            self._sink(batch)

    # --- backfill from the server's history --------------------------------------------------

    async def _backfill(self, client: Client) -> None:
        """Read back every held tag's missed stretch, then release its held values."""
        if not self._holding:
            return
        settings = self.config.opcua.backfill
        names = list(self._holding)
        nodes = [client.get_node(self._node_ids[name]) for name in names]
        access = await client.read_attributes(nodes, ua.AttributeIds.UserAccessLevel)
        readable = {
            name: value.StatusCode is not None
            and value.StatusCode.is_good()
            and value.Value is not None
            and bool(int(value.Value.Value or 0) & ua.AccessLevel.HistoryRead.mask)
            for name, value in zip(names, access, strict=True)
        }
        started = time.monotonic()
        log.info(
            "opcua backfill started",
            extra={
                "line": self.line,
                "tags": len(names),
                "with_history": sum(readable.values()),
                "oldest": min(self._watermarks[n] for n in names).isoformat(),
            },
        )
        for name in names:
            if not readable[name]:
                self._open_gaps[name] = (
                    self._watermarks[name],
                    "the server keeps no history of this node",
                )
                self._release(name)
        # each tag's read-back ends at its first new value (the subscription's first report)
        deadline = time.monotonic() + settings.first_value_timeout_s
        while time.monotonic() < deadline and any(not held for held in self._holding.values()):
            await asyncio.sleep(0.02)
        total = 0
        for name in [n for n in names if readable[n]]:
            total += await self._backfill_tag(client.get_node(self._node_ids[name]), name)
            self._release(name)
        log.info(
            "opcua backfill done",
            extra={
                "line": self.line,
                "tags": len(names),
                "values": total,
                "seconds": round(time.monotonic() - started, 3),
            },
        )

    async def _backfill_tag(self, node: Any, name: str) -> int:
        """Hand on ``name``'s history after its watermark and before its first held value."""
        settings = self.config.opcua.backfill
        tag = self.config.tag(name)
        since = self._watermarks[name]
        held = self._holding[name]
        until = held[0].ts if held else datetime.now(UTC)
        if until <= since:
            return 0
        start = since
        window = timedelta(seconds=settings.max_window_s)
        if until - since > window:
            start = until - window
            self._open_gaps[name] = (
                since,
                f"longer than the maximum backfill window of {settings.max_window_s:g} s",
            )
        else:
            # if the server's history does not reach back to the watermark, that is a gap
            self._open_gaps[name] = (
                since,
                "the server's history does not reach back to the last stored sample",
            )
        details = ua.ReadRawModifiedDetails()
        details.IsReadModified = False
        details.EndTime = until
        details.NumValuesPerNode = settings.page_values
        details.ReturnBounds = False
        continuation: bytes | None = None
        last = since
        handed = 0
        logged = time.monotonic()
        while True:
            details.StartTime = start
            try:
                result = await node.history_read(details, continuation)
            except ua.UaStatusCodeError as exc:
                self._refused(name, since, ua.StatusCode(exc.code).name)
                break
            if not result.StatusCode.is_good():
                self._refused(name, since, result.StatusCode.name)
                break
            values = result.HistoryData.DataValues or []
            received_at = datetime.now(UTC)
            page = [
                r._replace(backfilled=True)
                for r in (to_reading(self.line, tag, v, received_at) for v in values)
                if last < r.ts < until
            ]
            for reading in page:
                self._append(reading)
                last = max(last, reading.ts)
            handed += len(page)
            self._hand_on()
            await self._rate.take(len(values))
            if result.ContinuationPoint:
                continuation = result.ContinuationPoint
            elif len(values) >= settings.page_values and last > start:
                # a server that truncates a full page without a continuation point: go on
                # from the newest value read (those at or before it are skipped above)
                continuation, start = None, last
            else:
                break
            if time.monotonic() - logged >= PROGRESS_LOG_S:
                logged = time.monotonic()
                log.info(
                    "opcua backfill progress",
                    extra={
                        "line": self.line,
                        "tag": name,
                        "values": handed,
                        "at": last.isoformat(),
                    },
                )
        log.info(
            "opcua backfilled",
            extra={
                "line": self.line,
                "tag": name,
                "values": handed,
                "from": since.isoformat(),
                "to": until.isoformat(),
            },
        )
        return handed

    def _refused(self, name: str, since: datetime, status: str) -> None:
        self._open_gaps[name] = (since, f"the server refused the history read ({status})")
        log.warning(
            "opcua history read refused",
            extra={"line": self.line, "tag": name, "reason": status},
        )

    def _release(self, name: str) -> None:
        """Hand on what ``name`` received while it was read back, and receive live again."""
        for reading in self._holding.pop(name, []):
            self._append(reading)
        self._hand_on()
        self.state.backfill_tags_left = len(self._holding)


class _RateLimit:
    """At most ``per_s`` values a second on average, over one connector's read-backs."""

    def __init__(self, per_s: float) -> None:
        self._per_s = per_s
        self._since = time.monotonic()
        self._taken = 0.0

    async def take(self, count: int) -> None:
        now = time.monotonic()
        # idle time does not bank: a read-back after a quiet hour is still paced
        self._taken = max(0.0, self._taken - (now - self._since) * self._per_s) + count
        self._since = now
        wait = self._taken / self._per_s - 1.0
        if wait > 0:
            await asyncio.sleep(wait)


def _monitored_item(
    handle: int, node_id: ua.NodeId, tag: Tag, queue_size: int
) -> ua.MonitoredItemCreateRequest:
    params = ua.MonitoringParameters()
    params.ClientHandle = handle
    params.SamplingInterval = tag.sampling_interval_ms
    params.QueueSize = queue_size
    params.DiscardOldest = True
    # Without a filter a server reports only value or status changes (Part 4 §7.22.2): a
    # sensor repeating its value would look silent, and a stuck one could never be seen.
    # Every new source timestamp is a sample, so the trigger includes the timestamp.
    params.Filter = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
    if tag.deadband is not None and tag.kind == "scalar":
        params.Filter.DeadbandType = _DEADBAND_TYPE[tag.deadband.kind]
        params.Filter.DeadbandValue = tag.deadband.value
    request = ua.MonitoredItemCreateRequest()
    request.ItemToMonitor = ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.Value)
    request.MonitoringMode = ua.MonitoringMode.Reporting
    request.RequestedParameters = params
    return request
