"""The project's test PKI on disk: one directory of ECDSA P-256 key pairs, two per system title
(GBCS gives every device and every remote party a Digital Signing key and a Key Agreement
key), made by `hil keys generate DIR` and read here by both sides: the emulated boards'
security modules (emulator/security.py) and the host's verification (hil.frames.security,
given this store as its key lookup). The one home of the directory's layout (docs/frames.md,
"Security"):

    keys.toml                       what the set is: title -> the board devices it belongs to
    <TITLE>-ds.key.pem / -ds.pem    Digital Signing private key (PKCS#8) / public key (SPKI)
    <TITLE>-ka.key.pem / -ka.pem    Key Agreement private key / public key

Raw keys, not certificates: GBCS carries keys in certificates, but nothing here checks a
chain, and a public key file is what a certificate would give a verifier. The keys are test
keys made by the project's own command: none is ever copied into the repository (tests make
theirs in temporary directories).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

USES = ("ds", "ka")  # GBCS key usages: Digital Signing, Key Agreement
INDEX = "keys.toml"


class KeyStoreError(ValueError):
    """A key directory that cannot be written or read (message names the file)."""


def _name(title: bytes, use: str, private: bool) -> str:
    return f"{title.hex().upper()}-{use}{'.key' if private else ''}.pem"


def generate(directory: str | Path, owners: Mapping[bytes, Sequence[str]]) -> list[Path]:
    """Write a fresh key pair of each use for every title of `owners` (title -> who holds it,
    e.g. ["emulated-chub hub"]) into `directory`, which must not hold a key set already.
    Returns the files written."""
    d = Path(directory)
    if (d / INDEX).exists():
        raise KeyStoreError(f"{d / INDEX}: a key set is already there (keys are never "
                            "overwritten: choose another directory)")
    d.mkdir(parents=True, exist_ok=True)
    written = []
    lines = ["# Test keys made by `hil keys generate`: never real device keys.", "[titles]"]
    for title in sorted(owners):
        if len(title) != 8:
            raise KeyStoreError(f"system title {title.hex()} is not 8 bytes")
        lines.append(f'"{title.hex().upper()}" = [{", ".join(repr(o) for o in owners[title])}]'
                     .replace("'", '"'))
        for use in USES:
            key = ec.generate_private_key(ec.SECP256R1())
            priv = d / _name(title, use, True)
            priv.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
            priv.chmod(0o600)
            pub = d / _name(title, use, False)
            pub.write_bytes(key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            written += [priv, pub]
    (d / INDEX).write_text("\n".join(lines) + "\n")
    written.append(d / INDEX)
    return written


class KeyStore:
    """The keys of one directory, by (system title, use); a key that is not there is None
    (a verifier given only public keys, or a title the set does not cover)."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory)
        if not (self.path / INDEX).is_file():
            raise KeyStoreError(f"{self.path}: not a key set (no {INDEX}; make one with "
                                "`hil keys generate DIR`)")
        try:
            index = tomllib.loads((self.path / INDEX).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise KeyStoreError(f"{self.path / INDEX}: {e}") from None
        self.owners: dict[str, list[str]] = {str(k): list(v)
                                             for k, v in index.get("titles", {}).items()}
        self._private: dict[tuple[bytes, str], ec.EllipticCurvePrivateKey | None] = {}
        self._public: dict[tuple[bytes, str], ec.EllipticCurvePublicKey | None] = {}

    def private_key(self, title: bytes, use: str) -> ec.EllipticCurvePrivateKey | None:
        k = (bytes(title), use)
        if k not in self._private:
            p = self.path / _name(k[0], use, True)
            key = None
            if p.is_file():
                loaded = serialization.load_pem_private_key(p.read_bytes(), password=None)
                if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                    raise KeyStoreError(f"{p}: not an EC private key")
                key = loaded
            self._private[k] = key
        return self._private[k]

    def public_key(self, title: bytes, use: str) -> ec.EllipticCurvePublicKey | None:
        k = (bytes(title), use)
        if k not in self._public:
            p = self.path / _name(k[0], use, False)
            key = None
            if p.is_file():
                loaded = serialization.load_pem_public_key(p.read_bytes())
                if not isinstance(loaded, ec.EllipticCurvePublicKey):
                    raise KeyStoreError(f"{p}: not an EC public key")
                key = loaded
            else:
                priv = self.private_key(k[0], use)
                key = priv.public_key() if priv is not None else None
            self._public[k] = key
        return self._public[k]
