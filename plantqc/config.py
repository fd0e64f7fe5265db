"""Plant configuration: YAML validated by pydantic, with errors that name file, line and field.

A config describes one plant (ISA-95 site / area), where its data is stored, the
products (recipes) it makes, its lines with their OPC UA endpoints and tags, and
the image folders the line cameras and microscopes write to.  Secrets never sit
in the YAML: fields ending in ``_env`` name environment variables instead.
"""

from __future__ import annotations

import os
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from plantqc.charting.names import image_metric_tag
from plantqc.charting.settings import (
    PROFILE_CHARTS,
    SpcSettings,
    SpecLimits,
)
from plantqc.errors import UserError

BUFFER_DEPTH_TAG = "daemon_buffer_depth"
"""Tag, on every line, under which the edge daemon records its durable buffer depth [samples]."""
RESERVED_TAG_NAMES = frozenset({BUFFER_DEPTH_TAG})  # tags the daemon records about itself

Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", max_length=64)]
EnvVarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- OPC UA node ids ---------------------------------------------------------------------------

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


# --- tags --------------------------------------------------------------------------------------


class Deadband(_Model):
    """OPC UA DataChangeFilter deadband (Part 4 §7.22.2)."""

    kind: Literal["absolute", "percent"] = "absolute"
    value: float = Field(ge=0)


DEADBAND_BLIND_CHECKS = ("stuck_run", "silent_intervals")
"""Sensor-fault checks that a deadband makes meaningless (a steady value is not reported)."""


class Tag(_Model):
    """One OPC UA variable of a line."""

    name: Name
    node_id: str
    unit: str = ""
    description: str = ""
    # lot_id / roll_id tags carry the traceability strings that open a new lot or roll
    kind: Literal["scalar", "profile", "lot_id", "roll_id"] = "scalar"
    sampling_interval_ms: int = Field(1000, gt=0)
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


# --- OPC UA connection -------------------------------------------------------------------------


class OpcUaSecurity(_Model):
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


class OpcUa(_Model):
    """How the line's OPC UA server is reached."""

    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://[^\s/:]+(:\d+)?(/.*)?$")]
    security: OpcUaSecurity = OpcUaSecurity()
    publishing_interval_ms: int = Field(1000, gt=0)
    queue_size: int = Field(10, ge=1)


# --- products, lines, images -------------------------------------------------------------------


class Product(_Model):
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


class MqttNotify(_Model):
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


class OpcUaWriteback(_Model):
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


class Notify(_Model):
    """Where the line's alarm changes go; each section is one notifier (`plantqc.notifiers`)."""

    poll_interval_s: float = Field(1.0, gt=0, le=60)
    mqtt: MqttNotify | None = None
    opcua_writeback: OpcUaWriteback | None = None


class RunningCondition(_Model):
    """When the line runs: its tag ``tag`` above ``above``.  While it does not, the alarms of
    the line's tags are suppressed by design (ISA-18.2)."""

    tag: Name
    above: float


class Line(_Model):
    """A production line: ISA-95 path ``site/area/line``, its OPC UA server and tags."""

    name: Name
    kind: Literal["casting", "electrospinning", "calendering"]
    area: Name | None = None
    product: Name | None = None
    opcua: OpcUa
    tags: list[Tag] = Field(min_length=1)
    notify: Notify | None = None
    running: RunningCondition | None = None

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

    def tag(self, name: str) -> Tag:
        for tag in self.tags:
            if tag.name == name:
                return tag
        raise UserError(f"line {self.name!r} has no tag {name!r}.")


ImageKind = Literal["particles", "thickness", "defects"]

IMAGE_METRICS: dict[str, dict[str, str]] = {
    "particles": {
        "agglomerate_area_fraction": "1",
        "dispersion_index": "1",
        "filler_wt_pct": "wt%",
        "filler_wt_pct_vs_nominal": "wt%",
    },
    "thickness": {"mean_thickness_um": "um", "thickness_std_um": "um"},
    "defects": {"defects_per_m2": "1/m2"},
}
"""Scalar metrics each image analysis feeds to the charts, with their units."""
LOADING_METRICS = frozenset({"filler_wt_pct", "filler_wt_pct_vs_nominal"})
"""Metrics that need the line's product (densities and nominal loading) to be computed."""


class ImageMetricSettings(_Model):
    """Spec and chart settings of one image metric, charted like a tag."""

    spec: SpecLimits | None = None
    spc: SpcSettings | None = None


class ImageInput(_Model):
    """A folder the line's cameras or microscopes write images to."""

    name: Name
    kind: ImageKind
    folder: Path
    line: Name | None = None
    pattern: str = Field(
        r"(?P<lot>[^_]+)_(?P<roll>[^_]+)_.*\.(png|tif|tiff|jpg|jpeg|bmp)$",
        description="regular expression with named groups lot, roll and optionally line and "
        "time (ISO 8601, UTC unless it names an offset)",
    )
    pixel_size_um: float | None = Field(None, gt=0)
    scale_bar_um: float | None = Field(None, gt=0)
    metrics: dict[str, ImageMetricSettings] = {}

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern {value!r} is not a valid regular expression: {exc}") from exc
        unknown = set(compiled.groupindex) - {"line", "lot", "roll", "time"}
        if unknown:
            raise ValueError(
                f"pattern has named groups {sorted(unknown)}; only line, lot, roll and time "
                "are known"
            )
        return value

    @model_validator(mode="after")
    def _has_scale(self) -> Self:
        if (self.pixel_size_um is None) == (self.scale_bar_um is None):
            raise ValueError("give exactly one of pixel_size_um and scale_bar_um")
        if self.line is None and "line" not in re.compile(self.pattern).groupindex:
            raise ValueError("give line, or a pattern with a named group 'line'")
        known = IMAGE_METRICS[self.kind]
        unknown = sorted(set(self.metrics) - set(known))
        if unknown:
            raise ValueError(
                f"{self.kind} images have no metric {unknown[0]!r}; "
                f"expected one of: {', '.join(known)}"
            )
        longest = max(len(image_metric_tag(self.name, m)) for m in known)
        if longest > 64:
            raise ValueError(
                f"image input name {self.name!r} is too long for its metric tag names "
                f"({longest} > 64 characters)"
            )
        return self


class Plant(_Model):
    """ISA-95 enterprise level of this config: the site and its default area."""

    site: Name
    area: Name
    name: str = ""


class DaemonSettings(_Model):
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


class Storage(_Model):
    """Where samples go: a SQLAlchemy URL, given directly or through an environment variable."""

    url: str | None = None
    url_env: EnvVarName | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.url is not None and self.url_env is not None:
            raise ValueError("give url or url_env, not both")
        return self


class ReportSettings(_Model):
    """Rules of the batch QC report (`plantqc.reports`): disposition and default specs.

    Disposition: a characteristic fails when its lot mean is out of spec or when more than
    ``max_out_of_spec_pct`` percent of its individual values are (default 0: any value out of
    spec fails it, as a certificate of analysis means); a failed characteristic rejects the lot
    (holds it without ``reject_on_spec_fail``).  An unacknowledged alarm in the lot's time
    range, a Cpk below ``cpk_min`` (from at least ``capability_min_n`` values; smaller studies
    are shown as indicative), missing data or a lot that is still open put it on hold;
    otherwise it is released.  Image metrics without a spec
    of their own (``images[].metrics``) are judged against the recipe: filler wt% within
    ``loading_tolerance_wt_pct`` of the nominal, cross-section thickness within the product's
    tolerance; the CD uniformity (mean 2-sigma of the cross-direction scans) must not exceed
    ``cd_two_sigma_max_um``, by default half the profile tag's spec width.
    """

    cpk_min: float = Field(1.33, gt=0)
    capability_min_n: int = Field(30, ge=3)
    max_out_of_spec_pct: float = Field(0.0, ge=0, lt=100)
    reject_on_spec_fail: bool = True
    hold_on_unacknowledged_alarm: bool = True
    hold_on_low_cpk: bool = True
    hold_on_missing_data: bool = True
    loading_tolerance_wt_pct: float = Field(5.0, gt=0)
    cd_two_sigma_max_um: float | None = Field(None, gt=0)
    evidence_images: int = Field(3, ge=1, le=20)


class PlantConfig(_Model):
    """The whole plant configuration file."""

    plant: Plant
    storage: Storage = Storage(url="sqlite:///plantqc.db")
    daemon: DaemonSettings = DaemonSettings()
    products: list[Product] = []
    lines: list[Line] = Field(min_length=1)
    images: list[ImageInput] = []
    reports: ReportSettings = ReportSettings()

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
        storage = self.config.storage
        if storage.url_env is not None:
            return env_secret(storage.url_env, "storage.url_env")
        url = storage.url or "sqlite:///plantqc.db"
        prefix = "sqlite:///"
        relative = url.removeprefix(prefix)
        if url.startswith(prefix) and relative and relative[0] != "/" and relative != ":memory:":
            return prefix + str(self.resolve_path(Path(relative)))
        return url


def env_secret(variable: str, field: str) -> str:
    """Value of environment variable ``variable``, named by config field ``field``."""
    value = os.environ.get(variable)
    if value is None:
        raise UserError(f"environment variable {variable} (named by {field}) is not set.")
    return value


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
