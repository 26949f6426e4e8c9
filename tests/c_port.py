"""The C port (ports/c/) for the tests: build it with make (or say why it cannot be built, for a
skip), and drive its limiter through ctypes with the API vectors/limiter_runner.py expects of a
limiter module (Config, Limiter, SnapshotError), so one runner holds both implementations to
the vectors. Typing of JSON values (booleans, floats, "0x" strings) is the Python API's, not the
C port's (docs/porting.md section 3): Config.from_dict here does it before the C checks."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PORT = ROOT / "ports" / "c"
KEYS = ("device_window_ms", "amber_threshold", "red_threshold", "code_window_ms", "code_limit",
        "throttle_mode", "throttle_n", "throttle_period_ms", "never_throttle",
        "summary_interval_ms")
DEFAULTS: dict[str, Any] = {
    "device_window_ms": 3600000, "amber_threshold": 50, "red_threshold": 100,
    "code_window_ms": 3600000, "code_limit": 10, "throttle_mode": 1, "throttle_n": 10,
    "throttle_period_ms": 3600000,
    "never_throttle": [0x8F3F, 0x8F1C, 0x8F1D, 0x8F35, 0x8F36, 0x8F74, 0x8F76],
    "summary_interval_ms": 900000}
STATS = ("offered", "forwarded", "suppressed", "amber_events", "red_events", "overflow_uses",
         "episodes", "summaries_merged", "pending_summaries")


def build(target: str, san: bool = False) -> Path | str:
    """Build `target` ("all" or "lib"); its path, or the reason it cannot be built."""
    if shutil.which("make") is None or shutil.which("gcc") is None:
        return "make/gcc not installed"
    args = ["make", "-s", "-C", str(PORT)] + (["san"] if san else [target])
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    base = PORT / "build" / ("san" if san else "") / "host"
    return base / ("libalertstorm.so" if target == "lib" else "alertstorm")


def load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.as_config.restype = ctypes.c_char_p
    lib.as_config.argtypes = [ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int64),
                              ctypes.c_uint]
    lib.as_offer.argtypes = [ctypes.c_int, ctypes.c_int32, ctypes.c_uint32]
    lib.as_level.argtypes = [ctypes.c_int, ctypes.c_uint32]
    lib.as_poll.argtypes = [ctypes.c_int, ctypes.c_uint32]
    lib.as_poll.restype = ctypes.c_uint
    lib.as_snapshot.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]
    lib.as_snapshot.restype = ctypes.c_size_t
    lib.as_restore.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32]
    lib.as_crc16.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.as_crc16.restype = ctypes.c_uint16
    lib.as_sizeof_limiter.restype = ctypes.c_size_t
    lib.as_sizeof_slot.restype = ctypes.c_size_t
    return lib


class CLimiterModule:
    """A limiter "module" over the C library: what vectors/limiter_runner.run_vector uses."""

    class SnapshotError(ValueError):
        pass

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        outer = self

        class Config:
            def __init__(self) -> None:
                self.d = dict(DEFAULTS)

            @classmethod
            def from_dict(cls, d: dict[str, Any]) -> Config:
                cfg = cls()
                for k, v in d.items():
                    if k not in KEYS:
                        raise ValueError(f"{k}: unknown key")
                    if k == "throttle_mode" and isinstance(v, str):
                        modes = {"one_in_n": 1, "one_per_period": 2}
                        if v not in modes:
                            raise ValueError("throttle_mode: bad name")
                        v = modes[v]
                    elif k == "never_throttle":
                        if isinstance(v, (str, int)):
                            raise ValueError("never_throttle: must be a list")
                        v = [_int(k, c) for c in v]
                    else:
                        v = _int(k, v)
                    cfg.d[k] = v
                outer._apply(cfg)
                return cfg

            def to_dict(self) -> dict[str, Any]:
                return dict(self.d)

            def __eq__(self, other: object) -> bool:
                return isinstance(other, Config) and other.d == self.d

        self.Config = Config
        self._next = 0

        class Limiter:
            def __init__(self, cfg: Any = None, slots: int = 16) -> None:
                self.h = outer._next % 4
                outer._next += 1
                outer._apply(cfg if cfg is not None else Config())
                if not 0 <= slots <= 0xFFFFFFFF or lib.as_new(self.h, slots):
                    raise ValueError(f"slots: {slots} outside 1..255")

            def offer(self, code: int, t: int) -> int:
                if not -2**31 <= code < 2**31:
                    raise ValueError("code: out of range")
                r = int(lib.as_offer(self.h, code, t))
                if r < 0:
                    raise ValueError(f"code: {code} outside 0x0000..0xFFFF")
                return r

            def poll(self, t: int) -> int:
                return int(lib.as_poll(self.h, t))

            def pending(self) -> int:
                return int(lib.as_pending(self.h))

            def pop_summary(self) -> tuple[int, ...] | None:
                out = (ctypes.c_uint32 * 6)()
                return tuple(out) if lib.as_pop(self.h, out) else None

            def level(self, t: int) -> int:
                return int(lib.as_level(self.h, t))

            def clear(self) -> None:
                lib.as_clear(self.h)

            def configure(self, cfg: Any) -> None:
                outer._apply(cfg)
                lib.as_configure(self.h)

            def stats(self) -> dict[str, int]:
                out = (ctypes.c_uint32 * 9)()
                lib.as_stats(self.h, out)
                return dict(zip(STATS, out, strict=True))

            def snapshot(self, t: int) -> bytes:
                buf = ctypes.create_string_buffer(61 + 62 * 256 + 2)
                n = lib.as_snapshot(self.h, t, buf, len(buf))
                return buf.raw[:n]

            def restore(self, blob: bytes, t: int) -> None:
                if lib.as_restore(self.h, blob, len(blob), t):
                    raise outer.SnapshotError("refused")

        self.Limiter = Limiter

    def _apply(self, cfg: Any) -> None:
        """Make cfg the library's current config (its range checks run here)."""
        d = cfg.d
        v = (ctypes.c_int64 * 10)(*[0 if k == "never_throttle" else _clamp(d[k]) for k in KEYS])
        nt = list(d["never_throttle"])
        arr = (ctypes.c_int64 * 16)(*[_clamp(c) for c in nt[:16]])
        err = self.lib.as_config(v, arr, len(nt))
        if err is not None:
            raise ValueError(err.decode() + ": refused by the C port")


def _int(key: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, str) and v[:2] in ("0x", "0X"):
            try:
                return int(v[2:], 16)
            except ValueError:
                pass
        raise ValueError(f"{key}: not an integer: {v!r}")
    return v


def _clamp(v: int) -> int:
    return max(-2**63, min(2**63 - 1, v))


def bind_codecs(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Argument types of the library's codec and crypto entry points."""
    c_buf, c_size = ctypes.c_char_p, ctypes.c_size_t
    lib.as_sha256.argtypes = [c_buf, c_size, c_buf]
    lib.as_hmac.argtypes = [c_buf, c_size, c_buf, c_size, c_buf]
    lib.as_build_alert.argtypes = [c_buf, ctypes.c_int, ctypes.c_uint64, c_buf, c_buf,
                                   ctypes.c_uint, ctypes.c_uint, ctypes.c_int, ctypes.c_uint32]
    lib.as_build_alert.restype = c_size
    lib.as_build_summary.argtypes = [c_buf, ctypes.c_uint64, c_buf, c_buf, ctypes.c_uint32,
                                     ctypes.c_uint, ctypes.c_uint32, ctypes.c_uint32,
                                     ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint]
    lib.as_build_summary.restype = c_size
    lib.as_alert_code.argtypes = [c_buf, c_size]
    lib.as_alert_code.restype = ctypes.c_int32
    lib.as_cu_check.argtypes = [ctypes.c_uint32, c_buf, c_buf, c_size,
                                ctypes.POINTER(ctypes.c_int)]
    return lib
