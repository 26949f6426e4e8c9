"""Alert-code catalogue: the one home for what a GBCS alert code means, and for how a code is
written and read (`format_code`, `parse_code`).

Source: ../shared/gbcs/NOTES.md (codes checked against the public RTDS 4.5.0 and the GBCS alert
tables) plus the project-defined 0x8FFE suppression summary. `default_class` is the envelope the
alert normally travels in (critical = General-Signing 0x1000, non-critical = General-Ciphering
0x1001; message_codes.py turns it into a message code); it is a default, not a rule: 0x8Fxx is
not a safe proxy for "critical".
`never_throttle_candidate` marks codes a filter should think hard about before thinning (safety,
tamper, supply); the real never-throttle list is configuration (docs/policy.md `never_throttle`).

Importing this module is cheap (no construct): the policy configuration and the comparison use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hil.errors import ConfigError

CRITICAL = "critical"
NON_CRITICAL = "non-critical"

SUMMARY_CODE = 0x8FFE  # project-defined suppression summary (docs/frames.md section 5)
OVERFLOW_CODE = 0x0000  # summary aggregate of the limiter's overflow slot, never a real alert


@dataclass(frozen=True)
class AlertInfo:
    code: int
    name: str
    default_class: str
    never_throttle_candidate: bool = False


_ENTRIES = (
    AlertInfo(0x8F0A, "billing data log updated", NON_CRITICAL),
    AlertInfo(0x8F0C, "clock not adjusted (outside tolerance)", CRITICAL),
    AlertInfo(0x8F12, "CHF device log changed", NON_CRITICAL),
    AlertInfo(0x8F1C, "firmware verification failed", CRITICAL, True),
    AlertInfo(0x8F1D, "GSME power supply loss", CRITICAL, True),
    AlertInfo(0x8F1E, "integrity check of content or format of command failed", CRITICAL),
    AlertInfo(0x8F1F, "low battery capacity", CRITICAL),
    AlertInfo(0x8F20, "limited duty cycle action taken", CRITICAL),
    AlertInfo(0x8F30, "source does not have authority for command", CRITICAL),
    AlertInfo(0x8F35, "supply outage restored", CRITICAL, True),
    AlertInfo(0x8F36, "supply outage restored after outage >= 3 minutes", CRITICAL, True),
    AlertInfo(0x8F3D, "trusted source authentication failure", CRITICAL, True),
    AlertInfo(0x8F3E, "unauthorised communication access attempted", CRITICAL, True),
    AlertInfo(0x8F3F, "unauthorised physical access: tamper detect", CRITICAL, True),
    AlertInfo(0x8F60, "unusual numbers of malformed, out-of-order or unexpected commands",
              CRITICAL),
    AlertInfo(0x8F66, "future-dated command actioned", CRITICAL),
    AlertInfo(0x8F67, "future-dated command not actioned", CRITICAL),
    AlertInfo(0x8F72, "firmware verification successful", CRITICAL),
    AlertInfo(0x8F74, "meter cover removed", CRITICAL, True),
    AlertInfo(0x8F75, "strong magnetic field", CRITICAL, True),
    AlertInfo(0x8F76, "terminal cover removed", CRITICAL, True),
    AlertInfo(0x810E, "credit added locally", NON_CRITICAL),
    AlertInfo(0x81A0, "smart meter integrity issue: warning", NON_CRITICAL),
    AlertInfo(0x81B2, "unexpected hardware reset", NON_CRITICAL),
    AlertInfo(0x81B3, "watchdog reset", NON_CRITICAL),
    AlertInfo(SUMMARY_CODE, "alert-storm suppression summary (project-defined)", NON_CRITICAL),
)

CATALOGUE: dict[int, AlertInfo] = {e.code: e for e in _ENTRIES}

# Codes whose loss would hide a safety, tamper or supply event. 0x8F75 is on it because it is
# a known storm source whose exclusion was consulted on in 2023: a deliberate, visible choice.
NEVER_THROTTLE_CANDIDATES: frozenset[int] = frozenset(
    e.code for e in _ENTRIES if e.never_throttle_candidate)


def lookup(code: int) -> AlertInfo | None:
    return CATALOGUE.get(code)


def name_of(code: int | None) -> str | None:
    """Catalogue name of an alert code, or None when the code is not catalogued."""
    if code is None:
        return None
    info = CATALOGUE.get(code)
    return info.name if info else None


# How an alert code is written and read, in one place. Written: "0x" and four upper-case hex
# digits, everywhere the tool prints one (decoded frames, reports, config files it writes).
# Read, from config files, alert streams and DSP results: an int is taken as is (never a bool:
# `true` in a file is a mistake, not 1); a string is hex after a "0x" prefix, hex when it is
# exactly four hex digits ("8F3F"; "1234" too, as GBCS writes every code in hex), and decimal
# otherwise ("36671"). A decimal code of four digits must therefore be given as an integer.


def format_code(code: int) -> str:
    """The project's spelling of a 16-bit code: 0x8F30 -> "0x8F30"."""
    return f"0x{code:04X}"


def parse_code(value: Any, key: str = "alert_code") -> int:
    """An alert code from an int or a string "0x8F3F" / "8F3F" / "36671" (rule above).
    Raises ConfigError naming `key`, the field the value came from."""
    if isinstance(value, str):
        s = value.strip()
        try:
            code = int(s, 16) if s.lower().startswith("0x") else int(s, 16 if _is_hex4(s) else 10)
        except ValueError:
            raise ConfigError(f"{key}: {value!r} is not an alert code") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        code = value
    else:
        raise ConfigError(f"{key}: {value!r} is not an alert code")
    if not 0 <= code <= 0xFFFF:
        raise ConfigError(f"{key}: {value!r} is out of range 0x0000..0xFFFF")
    return code


def _is_hex4(s: str) -> bool:
    return len(s) == 4 and all(ch in "0123456789abcdefABCDEF" for ch in s)
