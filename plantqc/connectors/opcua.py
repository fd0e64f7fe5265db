"""OPC UA connector: subscriptions per tag, readings with source time and status, reconnects.

One `OpcUaConnector` per line, an `plantqc.connectors.Input`.  It connects, resolves ``nsu=``
namespace URIs to the indices the server uses *now* (they change when a server restarts),
creates one monitored item per tag (sampling interval, queue size and deadband from the
config, OPC UA Part 4 §5.12 and §7.22.2), and hands the notifications to a sink as batches
of `Reading`s, one batch per publish response (what the server sent together).  A tag whose
node is unknown to the server is reported and skipped; the others keep flowing.  When the
connection is lost, it reconnects with capped exponential backoff and re-creates the
subscription from scratch.  Its settings are `plantqc.connectors.opcua_settings`.

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
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy
from asyncua.crypto import security_policies, uacrypto
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from plantqc.buffer import Reading
from plantqc.config import Line, Tag
from plantqc.connectors import InputState, ReadingSink
from plantqc.connectors.certs import fingerprint, first_use_pin, is_trusted, trust_on_first_use
from plantqc.connectors.opcua_settings import OpcUaSecurity
from plantqc.errors import UserError
from plantqc.quality import is_good
from plantqc.schema import env_secret
from plantqc.store.models import TimestampOrigin

log = logging.getLogger(__name__)

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
            handles = await self._subscribe(client)
            self.state.connected = True
            self.state.last_error = None
            log.info(
                "opcua subscribed",
                extra={"line": self.line, "tags": len(handles), "endpoint": self.endpoint},
            )
            waiters = [
                asyncio.create_task(stop.wait()),
                asyncio.create_task(lost.wait()),
                asyncio.create_task(self._consume(handles)),
            ]
            try:
                done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
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
        if not self._batch:
            # handed on once the loop is free: after the rest of this publish response,
            # which the subscription queues all at once
            asyncio.get_running_loop().call_soon(self._hand_on)
        self._batch.append(to_reading(self.line, tag, item.Value, datetime.now(UTC)))

    def _hand_on(self) -> None:
        batch, self._batch = self._batch, []
        if batch:  # empty when run() handed it on already, at its end
            self.state.handed_on(batch)
            self._sink(batch)


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
