"""The configuration update on the wire: the authenticated CONFIG message that puts a
scenario's configuration in force before its first alert, and the forged copy (same content
and counter, MAC'd with a wrong key) that a board must refuse."""

from __future__ import annotations

import time
from typing import Any

from firmware_model import config_update, wire
from firmware_model.limiter import Config
from hil.board.errors import ConfigRefused
from hil.harness.drive.context import DriveContext, expect_ok


class ConfigCounter:
    """The counters of one board's config updates."""

    def __init__(self) -> None:
        self._last = 0  # sent in this session

    def next(self) -> int:
        """A fresh counter: strictly increasing per device, also across runs (a real board
        keeps the last accepted counter in flash)."""
        self._last = max(int(time.time()), self._last + 1)
        return self._last


def config_message(config: dict[str, Any], counter: int, key: bytes) -> bytes:
    return bytes(config_update.build(Config.from_dict(dict(config)), counter, key))


def send_config(ctx: DriveContext, config: dict[str, Any], counter: int) -> None:
    """The genuine update; a board that refuses it fails the scenario."""
    r = ctx.client.command("CONFIG", wire.hexlify(
        config_message(config, counter, config_update.TEST_KEY)))
    if not r.ok and r.code in (wire.E_AUTH, wire.E_CONFIG):
        # the firmware's own decision on a genuine update: a verdict, not a rig error
        raise ConfigRefused(f"the board refused the update: {r.code} "
                            f"{' '.join(r.args[1:])}")
    expect_ok(r, "CONFIG")


def send_forged_config(ctx: DriveContext, config: dict[str, Any], counter: int) -> int:
    """The genuine update's content and counter, MAC'd with a wrong key: 1 if the board
    refuses it as unauthentic (E_AUTH), else 0. Same counter as the genuine one that
    follows, which must then still be accepted (a refused message consumes nothing)."""
    wrong = bytes(b ^ 0x5A for b in config_update.TEST_KEY)
    r = ctx.client.command("CONFIG", wire.hexlify(config_message(config, counter, wrong)))
    if r.ok or r.code == wire.E_INTERNAL:
        expect_ok(r, "forged CONFIG")  # raising on the firmware: a fail
        ctx.console.log("#", "forged CONFIG accepted")
        return 0
    ctx.console.log("#", f"forged CONFIG refused: {r.code} {' '.join(r.args[1:])}")
    return 1 if r.code == wire.E_AUTH else 0
