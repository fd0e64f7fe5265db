"""Plant configuration: YAML validated by pydantic, with errors that name file, line and field.

A config describes one plant (ISA-95 site / area), where its data is stored, the
products (recipes) it makes, its lines with their OPC UA endpoints and tags, and
the image folders the line cameras and microscopes write to.  Secrets never sit
in the YAML: fields ending in ``_env`` name environment variables instead.

This module holds the plant, its products, lines and tags, and composes the sections that
each plugin defines beside its code: the OPC UA connector (`plantqc.connectors.opcua_settings`),
the store backend (`plantqc.store.settings`), the notifiers (`plantqc.notifiers.*_settings`),
the image analyses (`plantqc.images.settings`), the charts (`plantqc.charting.settings`) and
the batch QC reports (`plantqc.reports.settings`).
None of those imports its plugin's code, so reading a config stays light.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from plantqc.alarms.settings import AlarmingSettings
from plantqc.charting.names import image_metric_tag
from plantqc.charting.settings import (
    PROFILE_CHARTS,
    SpcSettings,
    SpecLimits,
)
from plantqc.connectors.opcua_settings import (
    Deadband,
    NodeIdSpec,
    OpcUa,
    parse_node_id,
)
from plantqc.connectors.replay_settings import Replay
from plantqc.control.settings import ControlSettings
from plantqc.errors import UserError
from plantqc.images.settings import IMAGE_METRICS, ImageInput
from plantqc.notifiers.mqtt_settings import MqttNotify
from plantqc.notifiers.opcua_writeback_settings import OpcUaWriteback
from plantqc.reports.settings import ReportSettings
from plantqc.schema import Name, SettingsModel, env_secret
from plantqc.store.settings import DEFAULT_URL, Storage

BUFFER_DEPTH_TAG = "daemon_buffer_depth"
"""Tag, on every line, under which the edge daemon records its durable buffer depth [samples]."""
RESERVED_TAG_NAMES = frozenset({BUFFER_DEPTH_TAG})  # tags the daemon records about itself

# --- tags --------------------------------------------------------------------------------------


DEADBAND_BLIND_CHECKS = ("stuck_run", "silent_intervals")
"""Sensor-fault checks that a deadband makes meaningless (a steady value is not reported)."""


class Tag(SettingsModel):
    """One OPC UA variable of a line."""

    name: Name
    node_id: str
    unit: str = ""
    description: str = ""
    # lot_id / roll_id tags carry the traceability strings that open a new lot or roll
    kind: Literal["scalar", "profile", "lot_id", "roll_id"] = "scalar"
    # 0: sampled by exception, the server's fastest rate, every change reported
    sampling_interval_ms: int = Field(1000, ge=0)
    deadband: Deadband | None = None
    spec: SpecLimits | None = None
    spc: SpcSettings | None = None

    @field_validator("node_id")
    @classmethod
    def _node_id_parses(cls, value: str) -> str:
        parse_node_id(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _deadband_reports_changes_only(cls, data: Any) -> Any:
        # Behind a deadband the server sends a value only when it moves, so a steady value
        # looks stuck or silent: those two checks default to off and cannot be turned on.
        if not isinstance(data, dict) or not data.get("deadband"):
            return data
        spc = data.get("spc")
        faults = spc.get("faults") if isinstance(spc, dict) else None
        if not isinstance(spc, dict) or not isinstance(faults, dict | None):
            return data
        faults = faults or {}
        for name in DEADBAND_BLIND_CHECKS:
            if faults.get(name):
                raise ValueError(
                    f"spc.faults.{name} cannot be checked on a tag with a deadband, whose "
                    "server reports changes only; set it to 0 or remove the deadband"
                )
        off = dict.fromkeys(DEADBAND_BLIND_CHECKS, 0)
        return {**data, "spc": {**spc, "faults": {**faults, **off}}}

    @model_validator(mode="after")
    def _profile_chart(self) -> Self:
        # a profile is charted scan by scan through its per-scan statistics
        spc = self.spc
        if (
            self.kind == "profile"
            and spc
            and (spc.chart not in PROFILE_CHARTS or spc.subgroup_by != "count")
        ):
            raise ValueError(
                "a profile tag charts one point per scan: use chart imr or ewma with "
                "subgroup_by 'count'"
            )
        return self

    @property
    def parsed_node_id(self) -> NodeIdSpec:
        return parse_node_id(self.node_id)


# --- products, lines, images -------------------------------------------------------------------


class Product(SettingsModel):
    """A film recipe: polymer matrix, ceramic filler and thickness specification."""

    id: Name
    polymer: str
    polymer_density_g_cm3: float = Field(gt=0, le=25)
    salt: str | None = None
    filler: str
    filler_density_g_cm3: float = Field(gt=0, le=25)
    filler_wt_pct: float = Field(ge=0, le=100)
    thickness_target_um: float = Field(gt=0)
    thickness_tolerance_um: float = Field(gt=0)


# --- alarm notifications -----------------------------------------------------------------------


class Notify(SettingsModel):
    """Where the line's alarm changes go; each section is one notifier (`plantqc.notifiers`)."""

    poll_interval_s: float = Field(1.0, gt=0, le=60)
    mqtt: MqttNotify | None = None
    opcua_writeback: OpcUaWriteback | None = None


class RunningCondition(SettingsModel):
    """When the line runs: its tag ``tag`` above ``above``.  While it does not, the alarms of
    the line's tags are suppressed by design (ISA-18.2)."""

    tag: Name
    above: float


class Line(SettingsModel):
    """A production line: ISA-95 path ``site/area/line``, its OPC UA server and tags."""

    name: Name
    kind: Literal["casting", "electrospinning", "calendering"]
    area: Name | None = None
    product: Name | None = None
    opcua: OpcUa
    tags: list[Tag] = Field(min_length=1)
    notify: Notify | None = None
    running: RunningCondition | None = None
    control: ControlSettings | None = None
    alarming: AlarmingSettings = AlarmingSettings()

    @model_validator(mode="before")
    @classmethod
    def _control_line(cls, data: Any) -> Any:
        # a line's control section is that line's: its ``line`` defaults to the line's name
        if isinstance(data, dict) and isinstance(data.get("control"), dict):
            data = {**data, "control": {"line": data.get("name"), **data["control"]}}
        return data

    @field_validator("tags")
    @classmethod
    def _unique_tag_names(cls, tags: list[Tag]) -> list[Tag]:
        seen: set[str] = set()
        for tag in tags:
            if tag.name in RESERVED_TAG_NAMES:
                raise ValueError(f"tag name {tag.name!r} is reserved for the edge daemon")
            if tag.name in seen:
                raise ValueError(f"tag name {tag.name!r} appears more than once in this line")
            seen.add(tag.name)
        return tags

    @model_validator(mode="after")
    def _running_tag(self) -> Self:
        if self.running is not None:
            kinds = {tag.name: tag.kind for tag in self.tags}
            if kinds.get(self.running.tag) != "scalar":
                raise ValueError(
                    f"running names tag {self.running.tag!r}, which is not a scalar tag of "
                    "this line"
                )
        return self

    @model_validator(mode="after")
    def _control_of_this_line(self) -> Self:
        if self.control is not None and self.control.line != self.name:
            raise ValueError(
                f"control.line is {self.control.line!r}; a line's control section is the "
                f"line's own ({self.name!r})"
            )
        return self

    def tag(self, name: str) -> Tag:
        for tag in self.tags:
            if tag.name == name:
                return tag
        raise UserError(f"line {self.name!r} has no tag {name!r}.")


class Plant(SettingsModel):
    """ISA-95 enterprise level of this config: the site and its default area."""

    site: Name
    area: Name
    name: str = ""


class DaemonSettings(SettingsModel):
    """The edge daemon: its durable buffer, how the buffer drains, its metrics port and the
    processes that measure images.

    The metrics / health endpoint listens on loopback only; ``metrics_port: 0`` turns it off.
    """

    buffer_path: Path = Path("var/buffer.sqlite")
    buffer_max_samples: int = Field(5_000_000, ge=1)
    buffer_alarm_fraction: float = Field(0.8, gt=0, le=1)
    batch_size: int = Field(5_000, ge=1, le=1_000_000)
    flush_interval_ms: int = Field(100, gt=0)
    metrics_host: Literal["127.0.0.1", "::1", "localhost"] = "127.0.0.1"
    metrics_port: int = Field(9464, ge=0, le=65535)
    reconnect_max_s: float = Field(30.0, gt=0)
    buffer_depth_interval_s: float = Field(10.0, gt=0)
    # shelf expiry and silent-tag checks of the alarms
    alarm_check_interval_s: float = Field(5.0, gt=0)
    # images: analysis processes, how long a file must stay unchanged before it is read, and
    # where overlays and rejected files go (one subfolder per image input)
    image_workers: int = Field(1, ge=1, le=64)
    image_settle_s: float = Field(1.0, gt=0)
    image_overlay_folder: Path = Path("var/images/overlays")
    image_rejected_folder: Path = Path("var/images/rejected")


class PlantConfig(SettingsModel):
    """The whole plant configuration file."""

    plant: Plant
    storage: Storage = Storage(url=DEFAULT_URL)
    daemon: DaemonSettings = DaemonSettings()
    products: list[Product] = Field(default_factory=list)
    lines: list[Line] = Field(min_length=1)
    images: list[ImageInput] = Field(default_factory=list)
    reports: ReportSettings = ReportSettings()
    replay: Replay = Replay()

    @model_validator(mode="after")
    def _references(self) -> Self:
        for what, names in (
            ("line name", [line.name for line in self.lines]),
            ("product id", [p.id for p in self.products]),
            ("image input name", [i.name for i in self.images]),
        ):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{what} {duplicates[0]!r} appears more than once")
        products = {p.id for p in self.products}
        for line in self.lines:
            if line.product is not None and line.product not in products:
                raise ValueError(f"line {line.name!r} names product {line.product!r}, not defined")
        lines = {line.name for line in self.lines}
        for image in self.images:
            if image.line is not None and image.line not in lines:
                raise ValueError(
                    f"image input {image.name!r} names line {image.line!r}, not defined"
                )
            for line in self.lines:
                clash = {t.name for t in line.tags} & {
                    image_metric_tag(image.name, m) for m in IMAGE_METRICS[image.kind]
                }
                if clash:
                    raise ValueError(
                        f"line {line.name!r} has a tag {min(clash)!r}, the name of a metric tag "
                        f"of image input {image.name!r}"
                    )
        return self

    def line(self, name: str) -> Line:
        for line in self.lines:
            if line.name == name:
                return line
        known = ", ".join(line.name for line in self.lines)
        raise UserError(f"the config has no line {name!r}; its lines are: {known}.")

    def image_lines(self, image: ImageInput) -> list[Line]:
        """The lines ``image`` holds images of: its line, else every line (named by the file)."""
        return [self.line(image.line)] if image.line is not None else list(self.lines)

    def product(self, product_id: str) -> Product:
        for product in self.products:
            if product.id == product_id:
                return product
        raise UserError(f"the config has no product {product_id!r}.")


# --- loading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config together with where it came from."""

    config: PlantConfig
    path: Path
    text: str

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve_path(self, path: Path) -> Path:
        """A path from the config, relative ones taken from the config file's folder."""
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def storage_url(self) -> str:
        """The database URL, read from the environment when the config names a variable."""
        return self.config.storage.resolved_url(self.base_dir)


def load_config(path: str | Path, *, check_env: bool = True) -> LoadedConfig:
    """Read and validate a plant config; every problem becomes a `UserError` naming file and line.

    With ``check_env`` every ``*_env`` field must name a variable that is set.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"config file {path} does not exist.") from None
    except IsADirectoryError:
        raise UserError(f"config file {path} is a folder, not a file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"config file {path} cannot be read: {exc}.") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"{where}: YAML syntax error: {problem}.") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping with plant, lines, ... at the top level.")
    lines = _line_numbers(node) if node is not None else {}
    try:
        config = PlantConfig.model_validate(data)
    except ValidationError as exc:
        raise UserError(_describe_errors(path, exc, lines)) from None
    loaded = LoadedConfig(config=config, path=path, text=text)
    if check_env:
        for field, variable in _env_fields(config):
            env_secret(variable, field)
    return loaded


def _line_numbers(node: yaml.Node, loc: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map every path of the YAML document to the 1-based line where it starts."""
    found = {loc: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found.update(_line_numbers(value, (*loc, key.value)))
            found[(*loc, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found.update(_line_numbers(item, (*loc, index)))
    return found


def _describe_errors(path: Path, exc: ValidationError, lines: dict[tuple[Any, ...], int]) -> str:
    sentences = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
        where = f"{path}:{line}" if line is not None else str(path)
        field = _format_loc(loc) or "top level"
        sentences.append(f"{where}: {field}: {_describe_error(error, loc)}.")
    return "\n".join(sentences)


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the member type's name (e.g. 'float', 'function-after[...]') in union paths
    return isinstance(part, str) and ("[" in part or part in {"float", "int", "str", "bool"})


def _describe_error(error: Any, loc: tuple[Any, ...]) -> str:
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc[:-1])
        hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"unknown field {loc[-1]!r}{hint}"
    if kind == "missing":
        return "required field is missing"
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    got = error.get("input")
    return f"{message[0].lower()}{message[1:]} (got {got!r})" if got is not None else message


def _format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _allowed_fields(loc: tuple[Any, ...]) -> list[str]:
    model: Any = PlantConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if _is_model(model) else None
        if field is None:
            return []
        model = _model_in(field.annotation)
        if model is None:
            return []
    return [f.alias or name for name, f in model.model_fields.items()] if _is_model(model) else []


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if _is_model(annotation):
        return typing.cast(type[BaseModel], annotation)
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _env_fields(model: BaseModel, prefix: str = "") -> list[tuple[str, str]]:
    """Every ``*_env`` field that is set, with its path, anywhere in ``model``."""
    found: list[tuple[str, str]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        here = f"{prefix}.{name}" if prefix else name
        if name.endswith("_env") and isinstance(value, str):
            found.append((here, value))
        elif isinstance(value, BaseModel):
            found.extend(_env_fields(value, here))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    found.extend(_env_fields(item, f"{here}[{index}]"))
    return found
