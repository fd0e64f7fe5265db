"""Settings of the thickness control loops: the ``control:`` section of a control config.

Pydantic only (no cvxpy, no python-control), so that reading a config stays light.  The sample
is ``plantqc/control/samples/control.yaml``; `plantqc control identify --write` fills the
``model`` of each loop from a bump test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BeforeValidator, Field, PositiveFloat, PositiveInt, ValidationError

from plantqc.control.modes import Mode, SupervisorSettings
from plantqc.errors import UserError
from plantqc.schema import Name, SettingsModel

LoopMode = Annotated[Mode, BeforeValidator(lambda v: Mode.OFF if v is False else v)]
"""A loop's mode; YAML 1.1 reads a bare ``off`` as false, which means off here too."""


class MdModel(SettingsModel):
    """First-order-plus-dead-time model of pump setpoint -> gauge MD mean.

    Attributes
    ----------
    gain_um_per_ml_min : float
        Steady-state gain k, um of dry thickness per mL/min.
    deadtime_s : float
        Transport dead time die -> gauge at ``at_speed_m_min``, s.
    tau_s : float
        Time constant of the first-order lag, s (pump and die, usually seconds).
    at_speed_m_min : float or None
        Line speed of the bump test; the dead time scales as 1 / speed.
    source : str
        Where the numbers come from (``manual`` or the bump test file and time).
    """

    gain_um_per_ml_min: float
    deadtime_s: PositiveFloat
    tau_s: float = Field(default=0.0, ge=0)
    at_speed_m_min: PositiveFloat | None = None
    source: str = "manual"


class MdLoopSettings(SettingsModel):
    """The MD loop: gauge MD mean -> pump setpoint (SIMC velocity PI)."""

    mode: LoopMode = Mode.OFF
    target_um: PositiveFloat
    tau_c_factor: PositiveFloat = 1.0
    """SIMC closed-loop time constant over the dead time (1: the robust choice)."""
    model: MdModel
    supervisor: SupervisorSettings
    period_s: PositiveFloat = 20.0
    """Control period, s: one gauge traverse."""
    measurement_tag: Name = "dry_thickness_um"
    """The line's tag holding the gauge's MD mean (its source time and status count)."""
    setpoint_node_id: str | None = None
    """Writable OPC UA node of the pump setpoint, mL/min (read back each period)."""


class CdModel(SettingsModel):
    """Die-bolt response (`plantqc.control.response.response_matrix`)."""

    n_zones: PositiveInt
    n_bins: PositiveInt
    width_pitch: PositiveFloat = 1.0
    misalignment_pitch: float = 0.0
    gain: PositiveFloat = 1.0
    source: str = "manual"


class CdTuning(SettingsModel):
    """Tuning of the CD QP (`plantqc.control.cd.CdSettings`); bounds come from the supervisor."""

    alpha: float = Field(default=0.05, gt=0, le=1)
    max_bend: PositiveFloat = 4.0
    smoothness: float = Field(default=0.05, ge=0)
    move_weight: float = Field(default=0.01, ge=0)
    rel_gain: float = Field(default=0.1, gt=0, lt=1)


class CdLoopSettings(SettingsModel):
    """The CD loop: gauge profile -> die-bolt setpoints (constrained QP)."""

    mode: LoopMode = Mode.OFF
    model: CdModel
    tuning: CdTuning = CdTuning()
    supervisor: SupervisorSettings
    period_s: PositiveFloat = 20.0
    """Control period, s: one gauge traverse."""
    profile_tag: Name = "dry_thickness_profile_um"
    """The line's profile tag holding the gauge's CD profile."""
    setpoint_node_id: str | None = None
    """Writable OPC UA node of each die bolt, %, with ``{zone}`` for its number from 1
    (``...die_bolt_{zone:02d}_pct``)."""


class ControlSettings(SettingsModel):
    """The ``control:`` section: the loops of one line."""

    line: Name
    md: MdLoopSettings | None = None
    cd: CdLoopSettings | None = None


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def load_control(path: Path) -> tuple[dict, ControlSettings]:
    """The raw YAML document and its validated ``control:`` section.

    Raises
    ------
    UserError
        The file is missing, not YAML, has no ``control:`` section or a field is wrong
        (named with what was expected).
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read config {path}: {exc.strerror}.") from None
    except yaml.YAMLError as exc:
        raise UserError(f"config {path} is not valid YAML: {exc}.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("control"), dict):
        raise UserError(f"config {path} has no 'control:' section.")
    try:
        return doc, ControlSettings.model_validate(doc["control"])
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _field_path(("control", *err["loc"]))
        raise UserError(f"config {path}: {where}: {err['msg']}.") from None
