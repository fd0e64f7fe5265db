"""The simulator's OPC UA server: the config's nodes, ISA-95 folders, values from `LineModel`.

Every line of the config is served at its endpoint (lines that share an endpoint share a
server).  Node ids are exactly the config's: ``nsu=urn:plantqc:sim;s=...`` or ``ns=2;s=...``,
the namespace being registered first so that it gets index 2.  Scalars and profiles are
AnalogItemType variables (OPC 10000-8 §5.3.2) with EngineeringUnits and EURange; each line
also has ``<line>.SampleCounter`` and the writable alarm nodes of `ALARM_NODES`.  Stopping
and starting again keeps the model state, as a real server restart keeps the process
running: values continue where they stopped (the alarm nodes start again at their defaults).

History: the counter and every scalar and profile node historise their values (OPC UA
Part 11: ``Historizing`` true and HistoryRead in the access levels, values in the server's
history storage, asyncua's in-memory `HistoryDict`) for ``scenario.history.keep_s`` seconds,
except the nodes the scenario names in ``history.without``; a client reads them back with
HistoryReadRawModified.  Each value is saved as it is written, as a PLC's own historian
does: asyncua's ``historize_node_data_change`` samples through a subscription without a
queue, which drops values written faster than its 10 ms publishing (a tick loop catching up
does that).  A server restart starts with an empty history, as one without a persistent
historian does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

from plantqc.config import Line, PlantConfig, Tag
from plantqc.connectors.certs import make_certificate
from plantqc.connectors.opcua_settings import OpcUaSecurity, parse_node_id
from plantqc.errors import UserError
from plantqc.sim.model import SAMPLE_COUNTER, LineModel, signal_spec
from plantqc.sim.scenario import Scenario
from plantqc.sim.units import eu_information

SIM_NAMESPACE = "urn:plantqc:sim"
SIM_NAMESPACE_INDEX = 2  # what a fresh asyncua server gives the first registered namespace
DRAIN_S = 0.5  # after the last tick, time for subscriptions to publish it before the server stops
ALARM_NODES = (
    ("AlarmActive", False, ua.VariantType.Boolean),
    ("AlarmCode", 0, ua.VariantType.Int32),
)
"""Writable per-line nodes ``<line>.AlarmActive`` / ``<line>.AlarmCode`` for the OPC UA
alarm write-back (`plantqc.notifiers.opcua_writeback`), as a line PLC would offer them."""

log = logging.getLogger(__name__)


def with_port(endpoint: str, port: int) -> str:
    """``endpoint`` with its TCP port replaced by ``port``."""
    parts = urlparse(endpoint)
    return urlunparse(parts._replace(netloc=f"{parts.hostname}:{port}"))


def sim_node_id(tag_or_counter: Tag | str, line: Line) -> ua.NodeId:
    """The simulator's NodeId for a config tag (or the counter), checking its namespace."""
    if isinstance(tag_or_counter, str):
        return ua.NodeId(f"{line.name}.{tag_or_counter}", SIM_NAMESPACE_INDEX)
    spec = parse_node_id(tag_or_counter.node_id)
    if spec.namespace_uri not in (None, SIM_NAMESPACE) or spec.namespace_index not in (
        None,
        SIM_NAMESPACE_INDEX,
    ):
        raise UserError(
            f"tag {tag_or_counter.name!r} of line {line.name!r} has node id "
            f"{tag_or_counter.node_id!r}; the simulator serves namespace {SIM_NAMESPACE} "
            f"(index {SIM_NAMESPACE_INDEX}) only."
        )
    identifier: str | int = int(spec.identifier) if spec.identifier_type == "i" else spec.identifier
    return ua.NodeId(identifier, SIM_NAMESPACE_INDEX)


class _EnvUsers(UserManager):
    """Accepts exactly the username / password held in the environment variables named."""

    def __init__(self, username_env: str, password_env: str) -> None:
        self._expected = (os.environ.get(username_env), os.environ.get(password_env))

    def get_user(self, iserver, username=None, password=None, certificate=None):  # type: ignore[no-untyped-def]
        if username is not None and (username, password) == self._expected:
            return User(role=UserRole.User)
        return None


@dataclass
class _Endpoint:
    url: str
    lines: list[LineModel]
    security: OpcUaSecurity
    server: Server | None = None
    nodes: dict[tuple[str, str], ua.NodeId] = field(default_factory=dict)
    historised: list[ua.NodeId] = field(default_factory=list)
    kept: set[ua.NodeId] = field(default_factory=set)
    last: dict[ua.NodeId, ua.DataValue] = field(default_factory=dict)
    setpoints: dict[ua.NodeId, tuple[LineModel, str]] = field(default_factory=dict)


class LineSimulator:
    """An asyncua server (one per endpoint) playing the config's lines through a scenario.

    Parameters
    ----------
    config : PlantConfig
        Lines and tags to serve.
    scenario : Scenario
        Faults to inject and the lot / roll rhythm.
    seed : int
        Seed of every tag's random generator; the same seed gives the same values.
    tick_s : float
        Model step, s; a tag updates every ``sampling_interval_ms`` rounded to ticks.
    port : int, optional
        Serve every line on this port instead of the config's.
    pki : Path, optional
        Folder for the server certificate when a line uses Basic256Sha256 (default: a temp dir).
    """

    def __init__(
        self,
        config: PlantConfig,
        scenario: Scenario | None = None,
        *,
        seed: int = 0,
        tick_s: float = 0.1,
        port: int | None = None,
        pki: Path | None = None,
    ) -> None:
        scenario = scenario or Scenario()
        self.history = scenario.history
        self.tick_s = tick_s
        self._pki = pki
        self._endpoints: dict[str, _Endpoint] = {}
        # ISA-95 folders Plant / site / area / line
        self._paths = {
            line.name: (config.plant.site, line.area or config.plant.area) for line in config.lines
        }
        for line in config.lines:
            url = line.opcua.endpoint if port is None else with_port(line.opcua.endpoint, port)
            model = LineModel(line, scenario, seed=seed, tick_s=tick_s)
            entry = self._endpoints.setdefault(url, _Endpoint(url, [], line.opcua.security))
            entry.lines.append(model)
        self._task: asyncio.Task[None] | None = None
        self.started_at: datetime | None = None

    @property
    def endpoints(self) -> list[str]:
        return list(self._endpoints)

    def published_count(self, line: str) -> int:
        """The last value of ``line``'s SampleCounter: how many ticks it has published."""
        for entry in self._endpoints.values():
            for model in entry.lines:
                if model.line.name == line:
                    return model.k
        raise KeyError(f"the simulator serves no line {line!r}")

    async def start(self) -> None:
        """Open the servers and start ticking; on a restart, continue the model."""
        for entry in self._endpoints.values():
            entry.server = await self._build(entry)
            try:
                await entry.server.start()
            except OSError as exc:
                raise UserError(f"the simulator cannot listen at {entry.url}: {exc}.") from None
            for node, value in entry.last.items():
                await entry.server.write_attribute_value(node, value)
            await self._historise(entry)
        if self.started_at is None:
            self.started_at = datetime.now(UTC)
        self._task = asyncio.create_task(self._tick_loop())

    async def stop(self) -> None:
        """Stop ticking, give subscriptions time to publish the last values, close the servers."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            await asyncio.sleep(DRAIN_S)
        for entry in self._endpoints.values():
            if entry.server is not None:
                await entry.server.stop()
                entry.server = None

    async def __aenter__(self) -> LineSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _build(self, entry: _Endpoint) -> Server:
        entry.historised = []
        security = entry.security
        user_manager = (
            _EnvUsers(security.username_env, security.password_env)
            if security.username_env and security.password_env
            else None
        )
        server = Server(user_manager=user_manager)
        await server.init()
        server.set_endpoint(entry.url)
        server.set_server_name("plantqc line simulator")
        if security.policy == "Basic256Sha256":
            await self._secure(server, security)
        self._guard_writes(entry, server)
        index = await server.register_namespace(SIM_NAMESPACE)
        assert index == SIM_NAMESPACE_INDEX, f"namespace {SIM_NAMESPACE} got index {index}"
        folders = {
            "Plant": await server.nodes.objects.add_folder(
                ua.NodeId("Plant", index), ua.QualifiedName("Plant", index)
            )
        }
        for model in entry.lines:
            line = model.line
            path = "Plant"
            for name in self._paths[line.name]:
                parent, path = folders[path], f"{path}/{name}"
                if path not in folders:
                    folders[path] = await parent.add_folder(
                        ua.NodeId(path, index), ua.QualifiedName(name, index)
                    )
            line_folder = await folders[path].add_folder(
                ua.NodeId(line.name, index), ua.QualifiedName(line.name, index)
            )
            counter = sim_node_id(SAMPLE_COUNTER, line)
            await line_folder.add_variable(
                counter, ua.QualifiedName(SAMPLE_COUNTER, index), 0.0, ua.VariantType.Double
            )
            entry.nodes[(line.name, SAMPLE_COUNTER)] = counter
            historised = [SAMPLE_COUNTER]
            for name, initial, kind in ALARM_NODES:  # the daemon's alarm write-back targets
                alarm_node = await line_folder.add_variable(
                    sim_node_id(name, line), ua.QualifiedName(name, index), initial, kind
                )
                await alarm_node.set_writable()
            if model.casting is not None:
                await self._add_setpoints(entry, line_folder, model)
            for tag in line.tags:
                if sim_node_id(tag, line) == counter:  # a config may subscribe to the counter
                    continue
                entry.nodes[(line.name, tag.name)] = await _add_tag(server, line_folder, line, tag)
                if tag.kind in ("scalar", "profile"):
                    historised.append(tag.name)
            entry.historised += [
                entry.nodes[(line.name, name)]
                for name in historised
                if self.history.kept(line.name, name)
            ]
        return server

    async def _add_setpoints(self, entry: _Endpoint, folder: object, model: LineModel) -> None:
        """The casting line's writable setpoints (`plantqc.sim.casting_tags`), each with its
        actuator's range as EURange, and the guard that refuses writes outside it."""
        assert model.casting is not None
        line = model.line
        for sp in model.casting.setpoints:
            node_id = sim_node_id(sp.name, line)
            node = await folder.add_variable(  # type: ignore[attr-defined]
                node_id, ua.QualifiedName(sp.name, SIM_NAMESPACE_INDEX),
                model.casting.current(sp.name),
                ua.VariantType.Double,
            )  # fmt: skip
            await node.set_writable()
            await node.add_property(
                ua.NodeId(f"{line.name}.{sp.name}.EURange", SIM_NAMESPACE_INDEX),
                "EURange",
                ua.Variant(ua.Range(Low=sp.low, High=sp.high), ua.VariantType.ExtensionObject),
            )
            entry.setpoints[node_id] = (model, sp.name)

    def _guard_writes(self, entry: _Endpoint, server: Server) -> None:
        # asyncua has no per-node write check that can answer with a status (a value setter's
        # result is ignored), so the attribute service's write is wrapped: a setpoint write
        # goes to the line model first, and only one it takes reaches the node
        service = server.iserver.attribute_service
        write = service.write

        async def guarded(params: ua.WriteParameters, *args: object, **kw: object):  # type: ignore[no-untyped-def]
            results: list[ua.StatusCode | None] = []
            passed = []
            for item in params.NodesToWrite:
                target = entry.setpoints.get(item.NodeId)
                value = item.Value.Value.Value if item.Value and item.Value.Value else None
                if target is None or item.AttributeId != ua.AttributeIds.Value:
                    results.append(None)
                    passed.append(item)
                    continue
                model, name = target
                if not isinstance(value, int | float) or isinstance(value, bool):
                    results.append(ua.StatusCode(ua.StatusCodes.BadTypeMismatch))
                    continue
                assert model.casting is not None
                status = model.casting.write(name, float(value))
                if status:
                    results.append(ua.StatusCode(status))
                else:
                    results.append(None)
                    passed.append(item)
            done = iter(await write(ua.WriteParameters(NodesToWrite=passed), *args, **kw))
            return [r if r is not None else next(done) for r in results]

        service.write = guarded  # type: ignore[method-assign]

    async def _historise(self, entry: _Endpoint) -> None:
        # after the values of before a restart were written: history holds what the line
        # produced, not a node's initial value stamped at the restart
        server = entry.server
        assert server is not None
        storage = server.iserver.history_manager.storage
        entry.kept = set(entry.historised)
        for node_id in entry.historised:
            node = server.get_node(node_id)
            await node.write_attribute(ua.AttributeIds.Historizing, ua.DataValue(True))
            for attribute in (ua.AttributeIds.AccessLevel, ua.AttributeIds.UserAccessLevel):
                await node.set_attr_bit(attribute, ua.AccessLevel.HistoryRead)
            await storage.new_historized_node(
                node_id, timedelta(seconds=self.history.keep_s), self.history.keep_values
            )

    async def _secure(self, server: Server, security: OpcUaSecurity) -> None:
        folder = self._pki or Path(tempfile.mkdtemp(prefix="plantqc-sim-pki-"))
        cert, key = folder / "sim-server-cert.der", folder / "sim-server-key.pem"
        if not cert.exists():
            made = make_certificate(folder, "sim-server", server=True)
            cert, key = made.certificate, made.private_key
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        policy = {
            "Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
            "SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
        }[security.mode]
        server.set_security_policy([policy])

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        ticks = 0
        last_ts = datetime.min.replace(tzinfo=UTC)
        while True:
            now = datetime.now(UTC)
            # a strictly increasing source time per tick, even if the wall clock steps back
            ts = now if now > last_ts else last_ts + timedelta(microseconds=1)
            last_ts = ts
            for entry in self._endpoints.values():
                await self._publish(entry, ts)
            ticks += 1
            # scheduled on the loop clock, so ticks do not drift however long publishing takes
            await asyncio.sleep(max(0.0, start + ticks * self.tick_s - loop.time()))

    async def _publish(self, entry: _Endpoint, ts: datetime) -> None:
        server = entry.server
        assert server is not None
        storage = server.iserver.history_manager.storage
        for model in entry.lines:
            for update in model.step():
                node = entry.nodes[(model.line.name, update.tag)]
                value = ua.DataValue(
                    Value=_variant(update.value),
                    StatusCode=ua.StatusCode(update.status),
                    SourceTimestamp=ts,
                    ServerTimestamp=ts,
                )
                entry.last[node] = value
                await server.write_attribute_value(node, value)
                if node in entry.kept:
                    await storage.save_node_value(node, value)


def _variant(value: float | list[float] | str) -> ua.Variant:
    if isinstance(value, str):
        return ua.Variant(value, ua.VariantType.String)
    return ua.Variant(value, ua.VariantType.Double)


async def _add_tag(server: Server, parent: object, line: Line, tag: Tag) -> ua.NodeId:
    node_id = sim_node_id(tag, line)
    if tag.kind in ("lot_id", "roll_id"):
        node = await parent.add_variable(
            node_id, ua.QualifiedName(tag.name, SIM_NAMESPACE_INDEX), "", ua.VariantType.String
        )  # type: ignore[attr-defined]
        return node.nodeid
    spec = signal_spec(tag)
    item = ua.AddNodesItem()
    item.RequestedNewNodeId = node_id
    item.BrowseName = ua.QualifiedName(tag.name, SIM_NAMESPACE_INDEX)
    item.NodeClass = ua.NodeClass.Variable
    item.ParentNodeId = parent.nodeid  # type: ignore[attr-defined]
    item.ReferenceTypeId = ua.NodeId(ua.ObjectIds.Organizes)
    item.TypeDefinition = ua.NodeId(ua.ObjectIds.AnalogItemType)
    attrs = ua.VariableAttributes()
    attrs.DisplayName = ua.LocalizedText(tag.name)
    attrs.Description = ua.LocalizedText(tag.description or tag.name)
    attrs.DataType = ua.NodeId(ua.ObjectIds.Double)
    if tag.kind == "profile":
        attrs.Value = ua.Variant([spec.nominal], ua.VariantType.Double)
        attrs.ValueRank = ua.ValueRank.OneDimension
        attrs.ArrayDimensions = [0]
    else:
        attrs.Value = ua.Variant(spec.nominal, ua.VariantType.Double)
        attrs.ValueRank = ua.ValueRank.Scalar
    attrs.AccessLevel = ua.AccessLevel.CurrentRead.mask
    attrs.UserAccessLevel = ua.AccessLevel.CurrentRead.mask
    item.NodeAttributes = attrs
    result = (await server.iserver.isession.add_nodes([item]))[0]
    result.StatusCode.check()
    node = server.get_node(result.AddedNodeId)
    await node.add_property(
        ua.NodeId(f"{line.name}.{tag.name}.EngineeringUnits", SIM_NAMESPACE_INDEX),
        "EngineeringUnits",
        ua.Variant(eu_information(tag.unit), ua.VariantType.ExtensionObject),
    )
    await node.add_property(
        ua.NodeId(f"{line.name}.{tag.name}.EURange", SIM_NAMESPACE_INDEX),
        "EURange",
        ua.Variant(ua.Range(Low=spec.low, High=spec.high), ua.VariantType.ExtensionObject),
    )
    return node_id
