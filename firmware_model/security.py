# ruff: noqa: UP031  (MicroPython 1.9.2 has no f-strings)
# A frame's MAC and signature, as the device makes them: which bytes they cover, and the crypto
# provider that computes them (docs/frames.md section 11). A real device gets its MAC and its
# signature from its security module, which holds the private keys and never lets them out;
# here that is the `provider` the platform hands the board. This module knows only what GBCS
# says goes in; it imports no crypto library, so it runs unchanged under MicroPython. A board
# without a provider (None) leaves the zero placeholders the builders write, and says
# auth=none in HELLO: its frames are unauthenticated, and a verifier says so.
#
# The provider interface (emulator/security.py implements it on the `cryptography` package):
#
#   provider.name                                   what HELLO reports as auth=<name>
#   provider.mac(orig8, recip8, tid9, iv12, aad)    12-byte AES-128-GCM tag: key from the
#                                                   static-static ECDH of orig8's and recip8's
#                                                   key agreement keys and the GBCS KDF (over
#                                                   orig8, tid9 = CRA flag + counter, recip8)
#   provider.sign(orig8, data)                      64-byte ECDSA P-256 / SHA-256 r || s by
#                                                   orig8's digital signing key
#
# Covered, for frames this device builds (gbcs.build_alert / build_summary):
#   General-Ciphering: IV = originator title || invocation counter; authenticated data =
#     security control || the whole General-Signing block; the MAC is the frame's last 12 bytes.
#   General-Signing: the signature covers the block after its DF tag up to the signature
#     length byte (40); the signature is the frame's last 64 bytes.

MAC_LEN = 12
SIGNATURE_LEN = 64
TAG_SIGNED = 0xDF
TAG_CIPHERED = 0xDD


def auth_name(provider):
    """What HELLO says about the board's security module."""
    return "none" if provider is None else provider.name


def _length(buf, i):
    b = buf[i]
    if b < 0x80:
        return b, i + 1
    if b == 0x81:
        return buf[i + 1], i + 2
    return (buf[i + 1] << 8) | buf[i + 2], i + 3


def _put(buf, at, data):
    for k in range(len(data)):  # no slice assignment into a bytearray on MicroPython 1.9.2
        buf[at + k] = data[k]


def seal(buf, n, provider):
    """Put the real MAC or signature into the frame of n bytes just built in buf."""
    if provider is None:
        return
    if buf[0] == TAG_SIGNED:
        orig = bytes(buf[12:20])
        _put(buf, n - SIGNATURE_LEN, provider.sign(orig, bytes(buf[1:n - SIGNATURE_LEN - 1])))
        return
    if buf[0] != TAG_CIPHERED:
        raise ValueError("not a frame this device builds: tag 0x%02X" % buf[0])
    _, sc = _length(buf, 7)  # DD and six empty header fields, then the ciphered length
    gs = sc + 5  # security control, invocation counter
    orig = bytes(buf[gs + 12:gs + 20])
    mac = provider.mac(orig, bytes(buf[gs + 21:gs + 29]), bytes(buf[gs + 2:gs + 11]),
                       orig + bytes(buf[sc + 1:sc + 5]),
                       bytes(buf[sc:sc + 1]) + bytes(buf[gs:n - MAC_LEN]))
    _put(buf, n - MAC_LEN, mac)
