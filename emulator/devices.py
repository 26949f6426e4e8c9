"""The devices an emulated board is made of, and how their alerts travel.

GB smart metering: the comms hub holds the Communications Hub Function (CHF, its own alerts
and the WAN modem) and the Gas Proxy Function (GPF, which answers for the battery gas meter).
The electricity meter (ESME, mains) and the gas meter (GSME, battery, asleep most of the
time) reach the hub over the ZigBee HAN; only the hub talks to the DCC over the WAN. Alert
payloads are DLMS for ESME and CHF, GBZ for GSME (../shared/gbcs/NOTES.md).

The firmware (firmware_model/board.py) implements this path; this table is the host's
description of it (board files, docs, tests), kept in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    name: str  # the wire protocol's source name
    function: str
    encoding: str  # alert payload encoding
    power: str
    link: str  # how its frames leave the device
    wake_interval_s: int = 0  # battery devices: how often the radio wakes (0: always on)


DEVICES: dict[str, Device] = {
    "hub": Device("hub", "CHF + GPF", "dlms", "mains", "WAN (to the DCC)"),
    "esme": Device("esme", "ESME", "dlms", "mains", "HAN (to the hub)"),
    "gsme": Device("gsme", "GSME", "gbz", "battery", "HAN (to the GPF)", wake_interval_s=30),
}

# role -> the devices on that board, in the order alerts can come from
BOARD_DEVICES: dict[str, tuple[str, ...]] = {
    "chub": ("esme", "gsme", "hub"),
    "esme": ("esme",),
    "gsme": ("gsme",),
}


def path_of(role: str, source: str) -> list[str]:
    """Devices an alert from `source` crosses on a `role` board before it leaves it."""
    if source not in BOARD_DEVICES[role]:
        raise ValueError(f"a {role} board has no {source}")
    if role == "chub" and source != "hub":
        return [source, "hub"]
    return [source]
