"""Throwaway certificate authorities and server certificates for 127.0.0.1 (the TLS tests).

Ray's TLS is mutual: the head and every driver present the RAY_TLS_SERVER_CERT/KEY pair and
trust RAY_TLS_CA_CERT. One CA, one certificate for IP 127.0.0.1, valid for a day.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_tls_files(folder: Path, label: str = "seedcore-test") -> dict[str, str]:
    """Write ca.pem, server.pem and server.key under `folder`; return Ray's RAY_TLS_* variables."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name(f"{label} CA")).issuer_name(_name(f"{label} CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {"RAY_TLS_CA_CERT": folder / "ca.pem", "RAY_TLS_SERVER_CERT": folder / "server.pem",
             "RAY_TLS_SERVER_KEY": folder / "server.key"}
    paths["RAY_TLS_CA_CERT"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["RAY_TLS_SERVER_CERT"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["RAY_TLS_SERVER_KEY"].write_bytes(_pem_key(key))
    paths["RAY_TLS_SERVER_KEY"].chmod(0o600)
    return {"RAY_USE_TLS": "1", **{name: str(path) for name, path in paths.items()}}
