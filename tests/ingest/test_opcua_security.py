"""OPC UA security against the simulator's real asyncua server: Basic256Sha256 Sign and
SignAndEncrypt, a user from the environment, a client certificate made by
``plantqc opcua cert``, and the server certificate checked against a trust folder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from ingest_helpers import secure_config
from typer.testing import CliRunner

from plantqc.buffer import Reading
from plantqc.cli import app
from plantqc.config import LoadedConfig
from plantqc.connectors.certs import fingerprint, make_certificate, trust
from plantqc.connectors.opcua import OpcUaConnector
from plantqc.sim.server import LineSimulator

USER, PASSWORD = "operator", "s3cret-pw"


@pytest.fixture
def user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTQC_TEST_OPCUA_USER", USER)
    monkeypatch.setenv("PLANTQC_TEST_OPCUA_PASSWORD", PASSWORD)


def client_certificate(folder: Path) -> None:
    result = CliRunner().invoke(app, ["opcua", "cert", "--out", str(folder / "pki")])
    assert result.exit_code == 0, result.output


def server_certificate(folder: Path) -> x509.Certificate:
    """Make the simulator's certificate in ``folder`` (it uses it instead of a new one)."""
    made = make_certificate(folder, "sim-server", server=True)
    return x509.load_der_x509_certificate(made.certificate.read_bytes())


async def run_until(
    connector: OpcUaConnector, done: Callable[[], bool], timeout_s: float = 8.0
) -> None:
    """Run ``connector`` until ``done()`` or ``timeout_s``; it must not end by itself."""
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run(stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not done() and loop.time() < deadline and not task.done():
        await asyncio.sleep(0.05)
    assert not task.done(), "the connector ended by itself"
    stop.set()
    await task


def connector_for(loaded: LoadedConfig, got: list[Reading]) -> OpcUaConnector:
    line = loaded.config.lines[0]
    return OpcUaConnector(
        line, got.extend, base_dir=loaded.base_dir, backoff_initial_s=0.1, backoff_max_s=0.2
    )


async def serve_and_run(
    loaded: LoadedConfig, pki: Path, connector: OpcUaConnector, done: Callable[[], bool]
) -> None:
    async with LineSimulator(loaded.config, tick_s=0.05, pki=pki):
        await run_until(connector, done)


@pytest.mark.usefixtures("user")
@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
def test_secured_connection_with_user_and_client_certificate_receives_samples(
    tmp_path: Path, port: int, mode: str
) -> None:
    client_certificate(tmp_path)
    trust(server_certificate(tmp_path / "server"), tmp_path / "pki" / "trusted")
    loaded = secure_config(tmp_path, port, mode)
    got: list[Reading] = []
    connector = connector_for(loaded, got)
    asyncio.run(serve_and_run(loaded, tmp_path / "server", connector, lambda: len(got) >= 20))
    assert connector.state.last_error is None
    assert {"dry_thickness_um", "lot_id"} <= {r.tag for r in got}


@pytest.mark.usefixtures("user")
def test_wrong_password_is_named_and_retried(
    tmp_path: Path, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_certificate(tmp_path)
    trust(server_certificate(tmp_path / "server"), tmp_path / "pki" / "trusted")
    loaded = secure_config(tmp_path, port, "SignAndEncrypt")
    got: list[Reading] = []
    connector = connector_for(loaded, got)

    async def main() -> None:
        # the simulator takes the right password from the environment when it starts
        async with LineSimulator(loaded.config, tick_s=0.05, pki=tmp_path / "server"):
            monkeypatch.setenv("PLANTQC_TEST_OPCUA_PASSWORD", "wrong")
            await run_until(connector, lambda: connector.state.reconnects >= 3)

    asyncio.run(main())
    assert got == []
    assert connector.state.reconnects >= 3
    assert connector.state.last_error == (
        f"cannot connect to opc.tcp://127.0.0.1:{port}/plantqc/: the server rejected the user "
        "name or password (BadUserAccessDenied)"
    )


@pytest.mark.usefixtures("user")
def test_server_certificate_outside_the_trust_folder_is_named_and_refused(
    tmp_path: Path, port: int
) -> None:
    client_certificate(tmp_path)
    certificate = server_certificate(tmp_path / "server")
    loaded = secure_config(tmp_path, port, "Sign")
    got: list[Reading] = []
    connector = connector_for(loaded, got)
    asyncio.run(
        serve_and_run(
            loaded, tmp_path / "server", connector, lambda: connector.state.reconnects >= 2
        )
    )
    assert got == []
    assert connector.state.last_error == (
        f"the server certificate of opc.tcp://127.0.0.1:{port}/plantqc/ "
        f"(O=plantqc,CN=plantqc sim-server, SHA-256 {fingerprint(certificate)}) is not trusted: "
        f"it is not in the trust folder {tmp_path / 'pki' / 'trusted'}; copy it there or set "
        "trust_on_first_use"
    )


@pytest.mark.usefixtures("user")
def test_trust_on_first_use_stores_the_server_certificate_and_connects(
    tmp_path: Path, port: int
) -> None:
    client_certificate(tmp_path)
    certificate = server_certificate(tmp_path / "server")
    loaded = secure_config(tmp_path, port, "SignAndEncrypt", tofu=True)
    got: list[Reading] = []
    connector = connector_for(loaded, got)
    asyncio.run(serve_and_run(loaded, tmp_path / "server", connector, lambda: len(got) >= 5))
    stored = [
        x509.load_der_x509_certificate(path.read_bytes())
        for path in (tmp_path / "pki" / "trusted").iterdir()
    ]
    assert stored == [certificate]
    assert len(got) >= 5


@pytest.mark.usefixtures("user")
def test_trust_on_first_use_refuses_a_later_different_certificate(
    tmp_path: Path, port: int
) -> None:
    client_certificate(tmp_path)
    server_certificate(tmp_path / "first")
    replaced = server_certificate(tmp_path / "second")
    loaded = secure_config(tmp_path, port, "Sign", tofu=True)
    got: list[Reading] = []
    first = connector_for(loaded, got)
    asyncio.run(serve_and_run(loaded, tmp_path / "first", first, lambda: len(got) >= 1))
    (pinned,) = (tmp_path / "pki" / "trusted").iterdir()
    got.clear()
    later = connector_for(loaded, got)
    asyncio.run(
        serve_and_run(loaded, tmp_path / "second", later, lambda: later.state.reconnects >= 2)
    )
    assert got == []
    assert later.state.last_error == (
        f"the server certificate of opc.tcp://127.0.0.1:{port}/plantqc/ "
        f"(O=plantqc,CN=plantqc sim-server, SHA-256 {fingerprint(replaced)}) is not trusted: "
        f"it differs from the one trusted on first use ({pinned}); if the server's certificate "
        f"was replaced on purpose, delete {pinned.name} or copy the new certificate into "
        f"{tmp_path / 'pki' / 'trusted'}"
    )
    assert list((tmp_path / "pki" / "trusted").iterdir()) == [pinned]


@pytest.mark.usefixtures("user")
def test_security_mode_the_server_does_not_offer_is_named(tmp_path: Path, port: int) -> None:
    client_certificate(tmp_path)
    trust(server_certificate(tmp_path / "server"), tmp_path / "pki" / "trusted")
    served = secure_config(tmp_path / "server", port, "Sign")
    loaded = secure_config(tmp_path, port, "SignAndEncrypt")
    got: list[Reading] = []
    connector = connector_for(loaded, got)
    asyncio.run(
        serve_and_run(
            served, tmp_path / "server", connector, lambda: connector.state.reconnects >= 2
        )
    )
    assert got == []
    assert connector.state.last_error == (
        f"cannot connect to opc.tcp://127.0.0.1:{port}/plantqc/: the server offers no "
        "Basic256Sha256 SignAndEncrypt endpoint (it offers Basic256Sha256 Sign)"
    )
