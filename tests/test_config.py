"""The plant config: examples validate; each bad input is one sentence naming file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter

from plantqc.config import load_config, parse_node_id
from plantqc.errors import UserError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASTING = (EXAMPLES / "casting.yaml").read_text()


@pytest.fixture
def calendering_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTQC_DB_URL", "sqlite://")
    monkeypatch.setenv("PLANTQC_OPCUA_USER", "operator")
    monkeypatch.setenv("PLANTQC_OPCUA_PASSWORD", "secret")


def write(tmp_path: Path, text: str, name: str = "plant.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(UserError) as caught:
        load_config(path)
    return str(caught.value)


@pytest.mark.parametrize("name", ["casting", "electrospinning", "calendering"])
def test_every_example_config_validates(name: str, calendering_env: None) -> None:
    config = load_config(EXAMPLES / f"{name}.yaml").config
    line = config.lines[0]
    assert line.kind == name
    assert config.product(line.product or "").thickness_target_um > 0
    assert all(tag.spec is not None for tag in line.tags if tag.spc is not None)


def test_relative_sqlite_path_is_taken_from_the_config_folder(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, CASTING))
    assert loaded.storage_url() == f"sqlite:///{tmp_path / 'plantqc.db'}"


def test_storage_url_env_is_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANT_DB", "postgresql+psycopg://qc@db/plant")
    text = CASTING.replace("  url: sqlite:///plantqc.db", "  url_env: PLANT_DB")
    assert load_config(write(tmp_path, text)).storage_url() == "postgresql+psycopg://qc@db/plant"


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    assert (
        error_of(tmp_path / "absent.yaml")
        == f"config file {tmp_path / 'absent.yaml'} does not exist."
    )


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, CASTING.replace("    kind: casting\n", "    kind: [casting\n"))
    message = error_of(path)
    assert message.startswith(f"{path}:")
    assert "YAML syntax error" in message


def test_unknown_field_names_line_field_and_what_is_expected(tmp_path: Path) -> None:
    text = CASTING.replace("        unit: m/min\n", "        unit: m/min\n        colour: red\n", 1)
    path = write(tmp_path, text)
    line = text.splitlines().index("        colour: red") + 1
    message = error_of(path)
    assert message.startswith(f"{path}:{line}: lines[0].tags[0].colour: unknown field 'colour'")
    assert "expected one of: name, node_id, unit" in message


def test_wrong_type_names_the_field_and_the_value(tmp_path: Path) -> None:
    text = CASTING.replace("sampling_interval_ms: 500", "sampling_interval_ms: fast", 1)
    message = error_of(write(tmp_path, text))
    assert "lines[0].tags[0].sampling_interval_ms: input should be a valid integer" in message
    assert "(got 'fast')" in message


def test_duplicate_tag_names_in_a_line_are_rejected(tmp_path: Path) -> None:
    text = CASTING.replace("name: slot_die_gap_um", "name: web_speed_m_min")
    message = error_of(write(tmp_path, text))
    assert (
        "lines[0].tags: tag name 'web_speed_m_min' appears more than once in this line." in message
    )


def test_unparseable_node_id_is_rejected_with_the_expected_forms(tmp_path: Path) -> None:
    text = CASTING.replace(
        "node_id: nsu=urn:plantqc:sim;s=casting-1.pump_rate_ml_min", "node_id: pump"
    )
    message = error_of(write(tmp_path, text))
    assert "lines[0].tags[2].node_id: node id 'pump' does not parse" in message
    assert "'nsu=<namespace uri>;s=<name>'" in message


def test_lsl_above_usl_is_rejected(tmp_path: Path) -> None:
    text = CASTING.replace("spec: {lsl: 195, target: 200, usl: 205}", "spec: {lsl: 205, usl: 195}")
    path = write(tmp_path, text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "lsl: 205" in row)
    assert (
        error_of(path)
        == f"{path}:{line}: lines[0].tags[1].spec: lsl (205) must be below usl (195)."
    )


def test_unset_env_variable_is_named_with_its_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTQC_DB_URL", "sqlite://")
    monkeypatch.setenv("PLANTQC_OPCUA_USER", "operator")
    monkeypatch.delenv("PLANTQC_OPCUA_PASSWORD", raising=False)
    assert error_of(EXAMPLES / "calendering.yaml") == (
        "environment variable PLANTQC_OPCUA_PASSWORD "
        "(named by lines[0].opcua.security.password_env) is not set."
    )


def test_every_problem_is_reported_one_per_line(tmp_path: Path) -> None:
    text = CASTING.replace("sampling_interval_ms: 500", "sampling_interval_ms: -1", 1).replace(
        "spec: {lsl: 195, target: 200, usl: 205}", "spec: {lsl: 205, usl: 195}"
    )
    assert len(error_of(write(tmp_path, text)).splitlines()) == 2


@pytest.mark.parametrize(
    ("text", "index", "uri", "kind", "ident"),
    [
        ("ns=2;s=Line1.Speed", 2, None, "s", "Line1.Speed"),
        ("ns=3;i=1042", 3, None, "i", "1042"),
        (
            "nsu=urn:plantqc:sim;s=casting-1.web_speed_m_min",
            None,
            "urn:plantqc:sim",
            "s",
            "casting-1.web_speed_m_min",
        ),
        ("i=2258", None, None, "i", "2258"),
    ],
)
def test_node_id_forms_parse(
    text: str, index: int | None, uri: str | None, kind: str, ident: str
) -> None:
    parsed = parse_node_id(text)
    assert (parsed.namespace_index, parsed.namespace_uri) == (index, uri)
    assert (parsed.identifier_type, parsed.identifier) == (kind, ident)


@pytest.mark.parametrize("text", ["ns=x;s=a", "ns=2;i=abc", "s", "ns=2;q=1", ""])
def test_malformed_node_ids_raise(text: str) -> None:
    with pytest.raises(ValueError, match=r"does not parse|not a number"):
        parse_node_id(text)


def test_the_daemons_own_tag_name_is_reserved(tmp_path: Path) -> None:
    text = CASTING.replace("name: slot_die_gap_um", "name: daemon_buffer_depth")
    message = error_of(write(tmp_path, text))
    assert "tag name 'daemon_buffer_depth' is reserved for the edge daemon" in message


def test_a_deadband_tag_checks_neither_stuck_nor_silent_values(tmp_path: Path) -> None:
    # web_speed_m_min has a deadband: its server reports a value only when it moves
    line = load_config(write(tmp_path, CASTING)).config.lines[0]
    faults = line.tag("web_speed_m_min").spc.faults  # type: ignore[union-attr]
    assert (faults.bad_run, faults.stuck_run, faults.silent_intervals) == (5, 0, 0)


def test_a_stuck_check_on_a_deadband_tag_is_rejected(tmp_path: Path) -> None:
    text = CASTING.replace(
        "        spc: {chart: ewma, rules: we, ",
        "        spc: {chart: ewma, rules: we, faults: {stuck_run: 10}, ",
        1,
    )
    assert text != CASTING
    message = error_of(write(tmp_path, text))
    assert "lines[0].tags[0]" in message
    assert "spc.faults.stuck_run cannot be checked on a tag with a deadband" in message


# --- each plugin's sample section ---------------------------------------------------------------

REPO = EXAMPLES.parent
PLUGIN_SAMPLES = sorted(
    path
    for folder in ("connectors", "store", "images", "reports")
    for path in (REPO / "plantqc" / folder / "samples").glob("*.yaml")
)


@pytest.mark.parametrize("sample", PLUGIN_SAMPLES, ids=[s.stem for s in PLUGIN_SAMPLES])
def test_each_plugin_sample_is_a_valid_section_of_a_plant_config(
    sample: Path, tmp_path: Path
) -> None:
    # the sample's section replaces the casting example's: a line's opcua, or a top-level one
    plant = yaml.safe_load(CASTING)
    [(key, section)] = yaml.safe_load(sample.read_text(encoding="utf-8")).items()
    (plant["lines"][0] if key == "opcua" else plant)[key] = section
    loaded = load_config(write(tmp_path, yaml.safe_dump(plant)))
    owner = loaded.config.lines[0] if key == "opcua" else loaded.config
    # every field of the sample read, with the value it says
    assert _as_written(type(owner), key, getattr(owner, key)) == section


def _as_written(model: type[BaseModel], field: str, value: object) -> object:
    adapter = TypeAdapter(model.model_fields[field].annotation)
    return adapter.dump_python(value, mode="json", by_alias=True, exclude_unset=True)
