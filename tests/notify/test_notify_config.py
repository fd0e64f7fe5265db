"""A line's ``notify:`` section: the shipped samples and example are valid, errors are clear."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from notify_helpers import PLANT, mqtt_section

from plantqc.config import LoadedConfig, load_config
from plantqc.errors import UserError

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted((REPO / "plantqc" / "notifiers" / "samples").glob("*.yaml"))


def _load(folder: Path, notify: str, *, check_env: bool = False) -> LoadedConfig:
    path = folder / "plant.yaml"
    path.write_text(PLANT.format(notify=notify, opcua_port=4840), encoding="utf-8")
    return load_config(path, check_env=check_env)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.stem for s in SAMPLES])
def test_each_sample_config_is_a_valid_notify_section(sample: Path, tmp_path: Path) -> None:
    text = sample.read_text(encoding="utf-8")
    body = text.split("notify:\n", 1)[1]  # the sample's section, indented by two
    notify = _load(tmp_path, "\n".join(f"    {line}" for line in body.splitlines()))
    assert notify.config.lines[0].notify is not None
    assert getattr(notify.config.lines[0].notify, sample.stem) is not None


def test_the_commented_notify_block_of_the_casting_example_is_valid(tmp_path: Path) -> None:
    text = (REPO / "examples" / "casting.yaml").read_text(encoding="utf-8")
    block = re.search(r"^    # notify:\n(?:    #   .*\n)+", text, re.MULTILINE)
    assert block is not None
    uncommented = text.replace(block[0], re.sub(r"^    # ", "    ", block[0], flags=re.MULTILINE))
    path = tmp_path / "casting.yaml"
    path.write_text(uncommented, encoding="utf-8")
    notify = load_config(path).config.line("casting-1").notify
    assert notify is not None and notify.mqtt is not None and notify.opcua_writeback is not None
    assert (notify.mqtt.qos, notify.opcua_writeback.code_node_id) == (
        1,
        "nsu=urn:plantqc:sim;s=casting-1.AlarmCode",
    )


def test_a_qos_without_delivery_guarantee_is_refused_naming_file_line_and_field(
    tmp_path: Path,
) -> None:
    with pytest.raises(UserError) as error:
        _load(tmp_path, mqtt_section("plantqc", qos=0))
    path = tmp_path / "plant.yaml"
    line = path.read_text().splitlines().index("        qos: 0") + 1
    assert str(error.value) == (
        f"{path}:{line}: lines[0].notify.mqtt.qos: input should be 1 or 2 (got 0)."
    )


@pytest.mark.parametrize("prefix", ["plantqc/#", "/plantqc", "plantqc/", "plant qc"])
def test_a_topic_prefix_that_is_not_a_topic_is_refused(prefix: str, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"lines\[0\]\.notify\.mqtt\.topic_prefix"):
        _load(tmp_path, mqtt_section(prefix))


def test_a_writeback_without_a_node_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="give active_node_id, code_node_id or both"):
        _load(tmp_path, "      opcua_writeback: {reconnect_max_s: 5}")


def test_the_broker_credentials_name_environment_variables_that_must_be_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLANTQC_TEST_MQTT_USER", raising=False)
    monkeypatch.setenv("PLANTQC_TEST_MQTT_PASSWORD", "secret")
    notify = mqtt_section(
        "plantqc", username_env="PLANTQC_TEST_MQTT_USER", password_env="PLANTQC_TEST_MQTT_PASSWORD"
    )
    with pytest.raises(UserError) as error:
        _load(tmp_path, notify, check_env=True)
    assert str(error.value) == (
        "environment variable PLANTQC_TEST_MQTT_USER "
        "(named by lines[0].notify.mqtt.username_env) is not set."
    )
