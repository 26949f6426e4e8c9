"""Alert-code catalogue: the one home for what a GBCS alert code means.

Source: ../shared/gbcs/NOTES.md (codes checked against the public RTDS 4.5.0 and the GBCS alert
tables) plus the project-defined 0x8FFE suppression summary. `default_class` is the envelope the
alert normally travels in (critical = General-Signing 0x1000, non-critical = General-Ciphering
0x1001); it is a default, not a rule: 0x8Fxx is not a safe proxy for "critical".
`never_throttle_candidate` marks codes a filter should think hard about before thinning (safety,
tamper, supply); the real never-throttle list is configuration (docs/policy.md `never_throttle`).
"""

from __future__ import annotations

from dataclasses import dataclass

CRITICAL = "critical"
NON_CRITICAL = "non-critical"

SUMMARY_CODE = 0x8FFE  # project-defined: alert-storm suppression summary (CONTRACTS.md section 2)
OVERFLOW_CODE = 0x0000  # summary aggregate of the limiter's overflow slot, never a real alert

MESSAGE_CODE_CRITICAL = 0x1000
MESSAGE_CODE_NON_CRITICAL = 0x1001


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


def message_code_for(code: int) -> int:
    """Default message code (other-information) for sending `code` as a generic alert."""
    info = CATALOGUE.get(code)
    if info is not None and info.default_class == CRITICAL:
        return MESSAGE_CODE_CRITICAL
    return MESSAGE_CODE_NON_CRITICAL


def format_code(code: int) -> str:
    """The project's spelling of a 16-bit code: "0x8F30"."""
    return f"0x{code:04X}"


def parse_code(text: str | int) -> int:
    """Accept 0x8F30, "0x8F30", "8F30" -> 0x8F30; ValueError otherwise."""
    if isinstance(text, int):
        value = text
    else:
        s = text.strip()
        value = int(s, 16) if not s.lower().startswith("0x") else int(s[2:], 16)
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"alert code {text!r} is not a 16-bit value")
    return value
