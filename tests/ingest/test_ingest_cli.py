"""The ingestion commands' bad input: one sentence, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

from ingest_helpers import EXAMPLES, free_port
from typer.testing import CliRunner

from plantqc.cli import app

runner = CliRunner()


def test_sim_with_a_missing_scenario_file_is_one_sentence(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sim", "-c", str(EXAMPLES / "casting.yaml"), "--scenario", str(tmp_path / "no.yaml")]
    )
    assert result.exit_code == 2
    assert f"scenario file {tmp_path / 'no.yaml'} does not exist." in result.output


def test_sim_with_a_bad_fault_flag_is_one_sentence() -> None:
    result = runner.invoke(
        app, ["sim", "-c", str(EXAMPLES / "casting.yaml"), "--fault", "melt:x@1"]
    )
    assert result.exit_code == 2
    assert "fault 'melt:x@1' does not parse" in result.output


def test_sim_refuses_a_node_outside_its_namespace(tmp_path: Path) -> None:
    first_tag = "nsu=urn:plantqc:sim;s=casting-1.web_speed_m_min"
    text = (
        (EXAMPLES / "casting.yaml")
        .read_text()
        .replace(first_tag, "ns=5;s=casting-1.web_speed_m_min")
    )
    (tmp_path / "c.yaml").write_text(text)
    result = runner.invoke(app, ["sim", "-c", str(tmp_path / "c.yaml"), "--duration", "1"])
    assert result.exit_code == 2
    assert "the simulator serves namespace urn:plantqc:sim (index 2) only." in result.output


def test_browse_of_an_unreachable_endpoint_is_one_sentence() -> None:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/plantqc/"
    result = runner.invoke(app, ["opcua", "browse", endpoint])
    assert result.exit_code == 2
    assert f"cannot reach the OPC UA server at {endpoint}: connection refused." in result.output


def test_opcua_cert_writes_a_der_certificate_and_a_pem_key(tmp_path: Path) -> None:
    from cryptography import x509

    result = runner.invoke(app, ["opcua", "cert", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    cert = x509.load_der_x509_certificate((tmp_path / "client-cert.der").read_bytes())
    assert cert.signature_hash_algorithm.name == "sha256"  # type: ignore[union-attr]
    assert (tmp_path / "client-key.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
