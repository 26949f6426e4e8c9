"""GBCS frame security on the host: check a frame's MAC or signature with a test key set
(docs/frames.md section 11, "Security"). The device side is firmware_model/security.py (what
a frame's MAC and signature cover) behind a crypto provider (emulator/security.py): an
independent implementation of the same rules, held to this one by the tests.

* A General-Ciphering frame (security control 0x11, authentication only) carries a 12-byte
  AES-128-GCM tag. Key: the first 16 bytes of SHA-256(00000001 || Z || OtherInfo) (NIST
  SP 800-56A single-step KDF), Z the static-static ECDH shared secret of the originator's and
  the recipient's Key Agreement keys, OtherInfo = algorithm id 60 85 74 06 08 03 00 ||
  originator system title || 09 || transaction id (CRA flag, originator counter) || recipient
  system title. IV: originator system title || invocation counter. Authenticated data:
  security control || the General-Signing block the frame carries. No plaintext.
* A General-Signing frame carries an ECDSA P-256 / SHA-256 signature (r || s) by the
  originator's Digital Signing key over the block from after its DF tag to the end of its
  content (the signature length and signature excluded), as the DCC's GBCS parser verifies it.

`verify(frame, keys)` -> Auth(kind, valid): "mac" or "signature"; valid True or False, or None
when the key set has no key for the frame's parties (or the frame is encrypted, which no
device of the project sends). A frame whose MAC or signature bytes are the zero placeholder of
a board without a security module is not authentic: False, never True.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hil.frames.fast import decode_fast
from hil.frames.layouts import MAC_LEN, SC_ENCRYPTED, SIGNATURE_LEN

KDF_ALGORITHM_ID = bytes.fromhex("60857406080300")
KIND_MAC = "mac"
KIND_SIGNATURE = "signature"
USE_SIGNING = "ds"
USE_KEY_AGREEMENT = "ka"


class KeyLookup(Protocol):
    """Where verification gets its keys: by 8-byte system title and use ("ds" / "ka"); None
    when there is none. emulator.keystore.KeyStore is one."""

    def private_key(self, title: bytes, use: str) -> ec.EllipticCurvePrivateKey | None: ...

    def public_key(self, title: bytes, use: str) -> ec.EllipticCurvePublicKey | None: ...


@dataclass(frozen=True)
class Auth:
    kind: str
    valid: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "valid": self.valid}


@dataclass(frozen=True)
class _Signed:
    """Where a General-Signing block's fields are in a frame (absolute offsets)."""

    start: int  # the DF tag
    content_end: int  # first byte after the content: the signature length
    end: int  # first byte after the block

    def transaction_id(self, frame: bytes) -> bytes:
        return frame[self.start + 2:self.start + 11]

    def originator(self, frame: bytes) -> bytes:
        return frame[self.start + 12:self.start + 20]

    def recipient(self, frame: bytes) -> bytes:
        return frame[self.start + 21:self.start + 29]


def _length(frame: bytes, i: int) -> tuple[int, int]:
    """(value, offset after) of the DER length at i; the frame has been decoded already, so
    only the forms the decoders accept are here."""
    b = frame[i]
    if b < 0x80:
        return b, i + 1
    if b == 0x81:
        return frame[i + 1], i + 2
    return int.from_bytes(frame[i + 1:i + 3], "big"), i + 3


def _skip(frame: bytes, i: int) -> int:
    n, i = _length(frame, i)
    return i + n


def _signed_block(frame: bytes, start: int) -> _Signed:
    i = start + 29  # tag, transaction id, the two titles (fixed: docs/frames.md section 2)
    i = _skip(frame, i)  # date-time
    i = _skip(frame, i)  # other-information
    content_end = _skip(frame, i)
    return _Signed(start, content_end, _skip(frame, content_end))


def derive_mac_key(shared_secret: bytes, originator: bytes, transaction_id: bytes,
                   recipient: bytes) -> bytes:
    """The AES-128 key of a frame's MAC from the ECDH shared secret (see the module doc)."""
    other = KDF_ALGORITHM_ID + originator + b"\x09" + transaction_id + recipient
    return hashlib.sha256(b"\x00\x00\x00\x01" + shared_secret + other).digest()[:16]


def _mac(key: bytes, iv: bytes, aad: bytes) -> bytes:
    return AESGCM(key).encrypt(iv, b"", aad)[:MAC_LEN]  # GCM tag, truncated to its leftmost 12


def _ciphered_parts(frame: bytes) -> tuple[int, int, _Signed]:
    """(security control offset, its value, the signed block) of a General-Ciphering frame."""
    i = 1
    for _ in range(6):  # transaction id .. key-info
        i = _skip(frame, i)
    _, sc_at = _length(frame, i)
    return sc_at, frame[sc_at], _signed_block(frame, sc_at + 5)


def frame_mac(frame: bytes, shared_secret: bytes) -> bytes:
    """The MAC a General-Ciphering frame (authentication only) must carry, given the ECDH
    shared secret of its originator and recipient."""
    sc_at, sc, gs = _ciphered_parts(frame)
    key = derive_mac_key(shared_secret, gs.originator(frame), gs.transaction_id(frame),
                         gs.recipient(frame))
    iv = gs.originator(frame) + frame[sc_at + 1:sc_at + 5]
    return _mac(key, iv, bytes((sc,)) + frame[gs.start:gs.end])


def signed_data(frame: bytes) -> bytes:
    """What a General-Signing frame's signature covers."""
    gs = _signed_block(frame, 0)
    return frame[1:gs.content_end]


def verify(frame: bytes, keys: KeyLookup) -> Auth:
    """The frame's MAC or signature checked against `keys` (FrameError if it does not
    decode)."""
    fr = decode_fast(frame)
    if frame[0] == 0xDD:
        if fr.encrypted:
            return Auth(KIND_MAC, None)
        sc_at, sc, gs = _ciphered_parts(frame)
        if sc & SC_ENCRYPTED:  # pragma: no cover - decode_fast reports it as encrypted
            return Auth(KIND_MAC, None)
        secret = _shared_secret(keys, gs.originator(frame), gs.recipient(frame))
        if secret is None:
            return Auth(KIND_MAC, None)
        return Auth(KIND_MAC, hmac.compare_digest(frame_mac(frame, secret), frame[-MAC_LEN:]))
    gs = _signed_block(frame, 0)
    pub = keys.public_key(gs.originator(frame), USE_SIGNING)
    if pub is None:
        return Auth(KIND_SIGNATURE, None)
    sig = frame[gs.content_end + 1:gs.end]
    if len(sig) != SIGNATURE_LEN:
        return Auth(KIND_SIGNATURE, False)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        pub.verify(der, frame[1:gs.content_end], ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return Auth(KIND_SIGNATURE, False)
    return Auth(KIND_SIGNATURE, True)


def _shared_secret(keys: KeyLookup, originator: bytes, recipient: bytes) -> bytes | None:
    """ECDH is symmetric: either party's private key with the other's public key will do (a
    Service User holds its own private key; a test may hold the device's)."""
    mine, theirs = keys.private_key(recipient, USE_KEY_AGREEMENT), \
        keys.public_key(originator, USE_KEY_AGREEMENT)
    if mine is None or theirs is None:
        mine, theirs = keys.private_key(originator, USE_KEY_AGREEMENT), \
            keys.public_key(recipient, USE_KEY_AGREEMENT)
    if mine is None or theirs is None:
        return None
    return mine.exchange(ec.ECDH(), theirs)


def authenticate(frame: bytes, keys: KeyLookup) -> bytes:
    """The frame with a real MAC or signature in place of its placeholder, made with the
    originator's private keys from `keys` (what a device's security module does; the host
    builds such frames for tests and for forgeries made with the wrong keys). FrameError if
    the frame does not decode; KeyError if the key set lacks a key it needs."""
    fr = decode_fast(frame)
    if frame[0] == 0xDD:
        if fr.encrypted:
            raise KeyError("encrypted frames are not authenticated here")
        _, _, gs = _ciphered_parts(frame)
        orig, recip = gs.originator(frame), gs.recipient(frame)
        mine = keys.private_key(orig, USE_KEY_AGREEMENT)
        theirs = keys.public_key(recip, USE_KEY_AGREEMENT)
        if mine is None or theirs is None:
            raise KeyError(f"no key agreement keys for {orig.hex().upper()} -> "
                           f"{recip.hex().upper()}")
        return frame[:-MAC_LEN] + frame_mac(frame, mine.exchange(ec.ECDH(), theirs))
    gs = _signed_block(frame, 0)
    if gs.end - gs.content_end != 1 + SIGNATURE_LEN:
        raise KeyError("a General-Signing frame without room for a signature")
    signer = keys.private_key(gs.originator(frame), USE_SIGNING)
    if signer is None:
        raise KeyError(f"no signing key for {gs.originator(frame).hex().upper()}")
    r, s = decode_dss_signature(signer.sign(frame[1:gs.content_end], ec.ECDSA(hashes.SHA256())))
    return frame[:gs.content_end + 1] + r.to_bytes(32, "big") + s.to_bytes(32, "big")
