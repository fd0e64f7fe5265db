"""Settings of the OPC UA write-back notifier (`plantqc.notifiers.opcua_writeback`): a line's
``notify.opcua_writeback:`` section.

Pydantic only, so that reading a config never imports asyncua.  The sample section is
``plantqc/notifiers/samples/opcua_writeback.yaml``.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, field_validator, model_validator

from plantqc.connectors.opcua_settings import parse_node_id
from plantqc.schema import SettingsModel


class OpcUaWriteback(SettingsModel):
    """Write the line's alarm summary to nodes of its OPC UA server, for the PLC to act on.

    ``active_node_id`` (Boolean): any alarm active; ``code_node_id`` (Int32): the highest
    priority among the active alarms (`plantqc.notifiers.opcua_writeback.PRIORITY_CODES`).
    """

    active_node_id: str | None = None
    code_node_id: str | None = None
    reconnect_max_s: float = Field(30.0, gt=0)

    @field_validator("active_node_id", "code_node_id")
    @classmethod
    def _node_id_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_node_id(value)
        return value

    @model_validator(mode="after")
    def _some_node(self) -> Self:
        if self.active_node_id is None and self.code_node_id is None:
            raise ValueError("give active_node_id, code_node_id or both")
        return self
