"""Settings of the OPC UA connector: the line's ``opcua:`` section and the node ids of its tags.

Shared, as Telegraf's ``plugins/common/opcua`` is, by everything that talks to a line's OPC UA
server: the connector (`plantqc.connectors.opcua`), the alarm write-back
(`plantqc.notifiers.opcua_writeback`) and the simulator.  Pydantic only: reading a config
never imports asyncua.  The sample section is ``plantqc/connectors/samples/opcua.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from plantqc.schema import EnvVarName, SettingsModel

_NODE_ID = re.compile(
    r"^(?:ns=(?P<ns>\d+);|nsu=(?P<nsu>[^;]+);)?(?P<kind>[isgb])=(?P<ident>.+)$", re.DOTALL
)


@dataclass(frozen=True)
class NodeIdSpec:
    """A parsed OPC UA node id, by namespace index or by namespace URI (resolved at connect)."""

    identifier_type: Literal["i", "s", "g", "b"]
    identifier: str
    namespace_index: int | None = None
    namespace_uri: str | None = None


def parse_node_id(text: str) -> NodeIdSpec:
    """Parse ``ns=<i>;s=...``, ``ns=<i>;i=...`` or ``nsu=<uri>;s=...`` (OPC UA Part 6 §5.3.1.10)."""
    match = _NODE_ID.match(text.strip())
    if match is None:
        raise ValueError(
            f"node id {text!r} does not parse; expected 'ns=<index>;s=<name>', "
            "'ns=<index>;i=<number>' or 'nsu=<namespace uri>;s=<name>'"
        )
    kind, ident = match["kind"], match["ident"]
    if kind == "i" and not ident.isdigit():
        raise ValueError(f"node id {text!r} has a numeric identifier 'i=' that is not a number")
    return NodeIdSpec(
        identifier_type=kind,  # type: ignore[arg-type]
        identifier=ident,
        namespace_index=int(match["ns"]) if match["ns"] is not None else None,
        namespace_uri=match["nsu"],
    )


class Deadband(SettingsModel):
    """OPC UA DataChangeFilter deadband of a tag (Part 4 §7.22.2)."""

    kind: Literal["absolute", "percent"] = "absolute"
    value: float = Field(ge=0)


class OpcUaSecurity(SettingsModel):
    """OPC UA security: policy and mode, user identity and certificates (Part 2 / Part 4)."""

    policy: Literal["None", "Basic256Sha256"] = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    username_env: EnvVarName | None = None
    password_env: EnvVarName | None = None
    certificate: Path | None = None
    private_key: Path | None = None
    trust_folder: Path | None = None
    trust_on_first_use: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.policy == "None") != (self.mode == "None"):
            raise ValueError(
                f"security policy {self.policy!r} and mode {self.mode!r} do not go together; "
                "use both 'None' or a policy with Sign / SignAndEncrypt"
            )
        if self.policy != "None" and (self.certificate is None or self.private_key is None):
            raise ValueError(
                f"security policy {self.policy} needs certificate and private_key "
                "(make them with 'plantqc opcua cert')"
            )
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("username_env and password_env go together")
        return self


class Backfill(SettingsModel):
    """Reading back what the line produced while the daemon was away, from the server's history.

    On start and after every reconnect, each tag whose node historises (OPC UA Part 11) is
    read back from its last stored sample to the first value of the new subscription, in
    pages of ``page_values`` values, at most ``max_values_per_s`` values a second over the
    line, and at most ``max_window_s`` seconds back; a stretch that cannot be read back is
    recorded as a data gap.
    """

    enabled: bool = True
    max_window_s: float = Field(3600.0, gt=0)
    page_values: int = Field(1000, ge=1, le=100_000)
    max_values_per_s: float = Field(20_000.0, gt=0)
    first_value_timeout_s: float = Field(5.0, gt=0)


class OpcUa(SettingsModel):
    """How the line's OPC UA server is reached."""

    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://[^\s/:]+(:\d+)?(/.*)?$")]
    security: OpcUaSecurity = OpcUaSecurity()
    publishing_interval_ms: int = Field(1000, gt=0)
    queue_size: int = Field(10, ge=1)
    backfill: Backfill = Backfill()
