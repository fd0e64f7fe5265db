"""Settings of the MQTT notifier (`plantqc.notifiers.mqtt`): a line's ``notify.mqtt:`` section.

Pydantic only, so that reading a config never imports the MQTT client.  The sample section is
``plantqc/notifiers/samples/mqtt.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from plantqc.schema import EnvVarName, SettingsModel


class MqttNotify(SettingsModel):
    """Publish each alarm change of the line to an MQTT broker (`plantqc.notifiers.mqtt`)."""

    host: str = Field(min_length=1)
    port: int = Field(1883, ge=1, le=65535)
    topic_prefix: Annotated[
        str, Field(pattern=r"^[^/#+\s]([^#+\s]*[^/#+\s])?$", max_length=128)
    ] = "plantqc"
    qos: Literal[1, 2] = 1
    events: bool = Field(True, description="also publish every change on <line path>/events")
    username_env: EnvVarName | None = None
    password_env: EnvVarName | None = None
    tls: bool = False
    ca_file: Path | None = None
    client_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)] | None = None
    timeout_s: float = Field(5.0, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("username_env and password_env go together")
        if self.ca_file is not None and not self.tls:
            raise ValueError("ca_file is for TLS; set tls: true or remove ca_file")
        return self
