"""Scenarios: the faults a simulated line goes through, as a YAML file or command-line flags.

A scenario is a list of faults, each on one tag (or on every thickness tag for a filler
agglomeration episode), starting ``start_s`` seconds after the simulator starts.  Magnitudes
are in units of the tag's within-process standard deviation sigma, so one scenario applies
unchanged to tags of very different scales.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from plantqc.errors import UserError

FaultKind = Literal["step", "drift", "variance", "stuck", "bad", "uncertain", "agglomeration"]


class Fault(BaseModel):
    """One injected fault.

    ``magnitude`` means, by kind: ``step`` mean shift in sigma; ``drift`` slope in sigma per
    minute; ``variance`` and ``agglomeration`` the factor on sigma; unused for ``stuck``,
    ``bad`` and ``uncertain``.  ``duration_s`` None lasts to the end of the run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    line: str | None = None
    tag: str | None = None
    start_s: float = Field(ge=0)
    duration_s: float | None = Field(None, gt=0)
    magnitude: float = 0.0

    @model_validator(mode="after")
    def _has_target(self) -> Self:
        if self.kind != "agglomeration" and self.tag is None:
            raise ValueError(f"a {self.kind} fault needs the tag it acts on")
        if self.kind in ("variance", "agglomeration") and self.magnitude <= 0:
            raise ValueError(f"a {self.kind} fault needs a positive magnitude (factor on sigma)")
        return self

    def active(self, t_s: float) -> bool:
        """Whether the fault acts at ``t_s`` seconds after start."""
        end = float("inf") if self.duration_s is None else self.start_s + self.duration_s
        return self.start_s <= t_s < end

    def applies_to(self, line: str, tag: str) -> bool:
        """Whether the fault acts on tag ``tag`` of line ``line``."""
        if self.line is not None and self.line != line:
            return False
        if self.kind == "agglomeration" and self.tag is None:
            return "thickness" in tag
        return self.tag == tag


class History(BaseModel):
    """What the simulator's server keeps of its values (OPC UA Part 11 historical access).

    Every scalar and profile node (and the SampleCounter) keeps its values of the last
    ``keep_s`` seconds, at most ``keep_values`` of them (0: no bound), except the nodes named
    in ``without``: ``<tag>`` or ``<line>.<tag>`` (``SampleCounter`` for the counter), which
    a client cannot read back, as a plain PLC offers them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep_s: float = Field(600.0, gt=0)
    keep_values: int = Field(0, ge=0)
    without: list[str] = []

    def kept(self, line: str, tag: str) -> bool:
        """Whether the server keeps the history of ``tag`` of ``line``."""
        return tag not in self.without and f"{line}.{tag}" not in self.without


class CastingSim(BaseModel):
    """The physical casting line (`plantqc.sim.casting_line`) behind a casting line's tags.

    Without this section every tag is an independent random process; with it the pump,
    speed and thickness tags follow the line model and the pump, speed and die-bolt setpoints
    are writable (`plantqc.sim.casting_tags`).  Geometry and gauge are the simulator's own, so
    that a controller's model can be wrong about them as it would be on a real line.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    die_to_gauge_m: float = Field(6.0, gt=0)
    scan_s: float = Field(20.0, gt=0)
    n_zones: int = Field(24, ge=1)
    n_bins: int = Field(96, ge=1)
    gauge_noise_um: float = Field(0.1, ge=0)
    md_disturbances: bool = True
    cd_disturbances: bool = True


class Scenario(BaseModel):
    """Faults plus the traceability rhythm: a new roll every ``roll_length_s``; the history
    the server keeps; optionally the physical casting line behind the casting lines' tags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    faults: list[Fault] = []
    roll_length_s: float = Field(120.0, gt=0)
    rolls_per_lot: int = Field(5, ge=1)
    history: History = History()
    casting: CastingSim | None = None


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario YAML file; any problem is a `UserError` naming the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise UserError(f"scenario file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"scenario file {path} cannot be read: {exc}.") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        message = first["msg"].removeprefix("Value error, ")
        raise UserError(f"scenario file {path}: {where}: {message}.") from None


def parse_fault_flag(text: str) -> Fault:
    """Fault from ``KIND:TAG@START[+DURATION][=MAGNITUDE]``, e.g. ``drift:gap_um@30=2``."""
    try:
        kind, rest = text.split(":", 1)
        rest, _, magnitude = rest.partition("=")
        tag, _, timing = rest.partition("@")
        start, _, duration = timing.partition("+")
        return Fault(
            kind=kind,  # type: ignore[arg-type]
            tag=tag or None,
            start_s=float(start),
            duration_s=float(duration) if duration else None,
            magnitude=float(magnitude) if magnitude else 0.0,
        )
    except (ValueError, ValidationError):
        raise UserError(
            f"fault {text!r} does not parse; expected KIND:TAG@START[+DURATION][=MAGNITUDE] "
            "with KIND one of step, drift, variance, stuck, bad, uncertain, agglomeration."
        ) from None
