"""Self-signed OPC UA application certificates (OPC 10000-6 §6.2.2) and the trust folder.

The trust folder holds the server certificates a client accepts, DER or PEM, one a file.
Trust on first use pins one certificate per server address as
``tofu-<host>-<port>-<fingerprint>.der``; once pinned, another certificate at that address
is refused until an administrator removes the pin or trusts the new one explicitly.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID


@dataclass(frozen=True)
class CertificatePair:
    """Where a certificate (DER) and its private key (PEM) were written."""

    certificate: Path
    private_key: Path
    application_uri: str


def application_uri(name: str) -> str:
    """The application URI a certificate must carry for a client or server named ``name``."""
    return f"urn:{socket.gethostname()}:plantqc:{name}"


def make_certificate(
    folder: Path, name: str, *, server: bool = False, days: int = 3650
) -> CertificatePair:
    """Write ``<name>-cert.der`` and ``<name>-key.pem`` (RSA 2048) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    uri = application_uri(name)
    key = cert_gen.generate_private_key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = cert_gen.generate_self_signed_app_certificate(
        key,
        f"plantqc {name}",
        {"organizationName": "plantqc"},
        [
            x509.UniformResourceIdentifier(uri),
            x509.DNSName(socket.gethostname()),
            x509.DNSName("localhost"),
        ],
        extended=[usage],
        days=days,
    )
    pair = CertificatePair(folder / f"{name}-cert.der", folder / f"{name}-key.pem", uri)
    pair.certificate.write_bytes(cert.public_bytes(Encoding.DER))
    pair.private_key.write_bytes(cert_gen.dump_private_key_as_pem(key))
    pair.private_key.chmod(0o600)
    return pair


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 fingerprint of a certificate as lowercase hex, the name it is trusted under."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def is_trusted(certificate: x509.Certificate, trust_folder: Path) -> bool:
    """Whether exactly this certificate (DER or PEM) is in the trust folder."""
    wanted = certificate.public_bytes(Encoding.DER)
    for path in trust_folder.glob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        try:
            found = (
                x509.load_pem_x509_certificate(data)
                if data.startswith(b"-----")
                else x509.load_der_x509_certificate(data)
            )
        except ValueError:
            continue
        if found.public_bytes(Encoding.DER) == wanted:
            return True
    return False


def trust(certificate: x509.Certificate, trust_folder: Path) -> Path:
    """Store ``certificate`` in the trust folder under its fingerprint; return the file."""
    trust_folder.mkdir(parents=True, exist_ok=True)
    path = trust_folder / f"{fingerprint(certificate)[:16]}.der"
    path.write_bytes(certificate.public_bytes(Encoding.DER))
    return path


def _first_use_prefix(endpoint: str) -> str:
    parts = urlparse(endpoint)
    where = f"{parts.hostname or ''}-{parts.port or 4840}"
    return "tofu-" + re.sub(r"[^A-Za-z0-9.\-]", "_", where) + "-"


def first_use_pin(trust_folder: Path, endpoint: str) -> Path | None:
    """The certificate trusted on first use for ``endpoint``'s host and port, if any.

    Trust on first use pins one certificate per server address, as SSH's known_hosts
    does: once a certificate is pinned, a different one at the same address is refused.
    """
    pins = sorted(trust_folder.glob(_first_use_prefix(endpoint) + "*.der"))
    return pins[0] if pins else None


def trust_on_first_use(certificate: x509.Certificate, trust_folder: Path, endpoint: str) -> Path:
    """Pin ``certificate`` as ``endpoint``'s in the trust folder; return the file.

    The file, ``tofu-<host>-<port>-<fingerprint>.der``, also makes the certificate
    trusted for `is_trusted`.
    """
    trust_folder.mkdir(parents=True, exist_ok=True)
    name = f"{_first_use_prefix(endpoint)}{fingerprint(certificate)[:16]}.der"
    path = trust_folder / name
    path.write_bytes(certificate.public_bytes(Encoding.DER))
    return path
