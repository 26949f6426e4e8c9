"""The emulated boards' security module: the crypto provider firmware_model/security.py asks for
a frame's MAC and signature, built on the `cryptography` package with the keys of a test key
set (emulator/keystore.py). What goes into the MAC and the signature is the firmware's
business; this computes them as GBCS says (docs/frames.md section 11): the MAC key from the
static-static ECDH shared secret and the KDF, the tag by AES-128-GCM, the signature by ECDSA
P-256 with SHA-256."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emulator.keystore import KeyStore, KeyStoreError

KDF_ALGORITHM_ID = bytes.fromhex("60857406080300")  # GBCS's key derivation algorithm id
MAC_LEN = 12


class KeyStoreProvider:
    """Holds the keys of every device on one board (a hub and its meters) and the public keys
    of the parties they send to, as the devices' security modules would."""

    name = "cryptography"

    def __init__(self, store: KeyStore, titles: dict[str, bytes]) -> None:
        self.store = store
        self._secrets: dict[tuple[bytes, bytes], bytes] = {}  # ECDH is the slow part
        missing = [f"{dev} {t.hex().upper()}" for dev, t in sorted(titles.items())
                   if store.private_key(t, "ds") is None and dev != "dcc"]
        if missing:
            raise KeyStoreError(f"{store.path}: no keys for {', '.join(missing)} (make the set "
                                "with `hil keys generate DIR` after adding the board)")

    def _secret(self, orig: bytes, recip: bytes) -> bytes:
        k = (orig, recip)
        if k not in self._secrets:
            mine = self.store.private_key(orig, "ka")
            theirs = self.store.public_key(recip, "ka")
            if mine is None or theirs is None:
                raise KeyStoreError(f"{self.store.path}: no key agreement keys for "
                                    f"{orig.hex().upper()} -> {recip.hex().upper()}")
            self._secrets[k] = mine.exchange(ec.ECDH(), theirs)
        return self._secrets[k]

    def mac(self, orig: bytes, recip: bytes, tid: bytes, iv: bytes, aad: bytes) -> bytes:
        other = KDF_ALGORITHM_ID + orig + b"\x09" + tid + recip
        key = hashlib.sha256(b"\x00\x00\x00\x01" + self._secret(orig, recip) + other).digest()
        return AESGCM(key[:16]).encrypt(iv, b"", aad)[:MAC_LEN]

    def sign(self, orig: bytes, data: bytes) -> bytes:
        key = self.store.private_key(orig, "ds")
        if key is None:
            raise KeyStoreError(f"{self.store.path}: no signing key for {orig.hex().upper()}")
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
