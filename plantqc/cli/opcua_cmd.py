"""`plantqc opcua`: make a client certificate; browse a server's variables as YAML tags."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from plantqc.errors import UserError

app = typer.Typer(help="OPC UA tools: client certificates and browsing a server.")


@app.command("cert")
def cert(
    folder: Annotated[Path, typer.Option("--out", help="Folder for the files.")] = Path("pki"),
    name: Annotated[str, typer.Option("--name", help="Application name.")] = "client",
    days: Annotated[int, typer.Option("--days", min=1, help="Validity, days.")] = 3650,
) -> None:
    """Write a self-signed client certificate (DER) and private key (PEM) for Basic256Sha256."""
    from plantqc.connectors.certs import make_certificate

    pair = make_certificate(folder, name, days=days)
    typer.echo(f"certificate: {pair.certificate}\nprivate key: {pair.private_key}")
    typer.echo(f"application uri: {pair.application_uri}")
    typer.echo("give the certificate to the server's administrator to trust.")


@app.command("browse")
def browse(
    endpoint: Annotated[str, typer.Argument(help="e.g. opc.tcp://127.0.0.1:4840/plantqc/")],
    depth: Annotated[int, typer.Option("--depth", min=1, max=20, help="Levels below Objects.")] = 6,
) -> None:
    """Print the server's variables (node id, browse path, data type, unit) as YAML tags."""
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    if not endpoint.startswith("opc.tcp://"):
        raise UserError(f"endpoint {endpoint!r} must start with opc.tcp://.")
    typer.echo(asyncio.run(_browse(endpoint, depth)), nl=False)


async def _browse(endpoint: str, depth: int) -> str:
    from asyncua import Client, ua

    from plantqc.connectors.opcua import describe_error

    client = Client(endpoint, timeout=4)
    try:
        await client.connect()
    except Exception as exc:
        raise UserError(describe_error(exc, endpoint) + ".") from None
    try:
        namespaces = await client.get_namespace_array()
        lines = ["tags:"]
        stack = [(client.nodes.objects, [], 0)]
        while stack:
            node, path, level = stack.pop()
            below = []
            for child in await node.get_children():
                name = (await child.read_browse_name()).Name
                node_class = await child.read_node_class()
                if node_class == ua.NodeClass.Variable and child.nodeid.NamespaceIndex != 0:
                    lines.extend(await _tag_lines(child, [*path, name], namespaces))
                elif node_class == ua.NodeClass.Object and level + 1 < depth and name != "Server":
                    below.append((child, [*path, name], level + 1))
            stack.extend(reversed(below))
        return "\n".join(lines) + "\n"
    finally:
        await client.disconnect()


async def _tag_lines(node: object, path: list[str], namespaces: list[str]) -> list[str]:
    from asyncua import ua

    nodeid: ua.NodeId = node.nodeid  # type: ignore[attr-defined]
    kind = {ua.NodeIdType.String: "s", ua.NodeIdType.Guid: "g", ua.NodeIdType.ByteString: "b"}
    ident = kind.get(nodeid.NodeIdType, "i")
    node_id = f"nsu={namespaces[nodeid.NamespaceIndex]};{ident}={nodeid.Identifier}"
    data_type = await node.read_data_type_as_variant_type()  # type: ignore[attr-defined]
    unit = ""
    try:
        units = await (await node.get_child("0:EngineeringUnits")).read_value()  # type: ignore[attr-defined]
        unit = units.DisplayName.Text or ""
    except ua.UaError:
        pass
    rank = await node.read_value_rank()  # type: ignore[attr-defined]
    name = path[-1].replace(" ", "_")
    lines = [
        f"  - name: {name}",
        f"    node_id: '{node_id}'",
        f"    description: '{'/'.join(path)} ({data_type.name})'",
    ]
    if unit:
        lines.append(f"    unit: '{unit}'")
    if rank >= 1:
        lines.append("    kind: profile")
    elif data_type == ua.VariantType.String:
        lines.append("    kind: lot_id  # or roll_id; text tags carry traceability ids")
    return lines
