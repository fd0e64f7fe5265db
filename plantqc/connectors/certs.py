"""Self-signed OPC UA application certificates (OPC 10000-6 §6.2.2) and the trust folder."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

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
