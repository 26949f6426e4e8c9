"""Host-side config vocabulary (hil/model/policy.py) against docs/policy.md."""

from __future__ import annotations

import json

import pytest

from hil.errors import ConfigError
from hil.frames.catalogue import parse_code
from hil.model.policy import ONE_PER_PERIOD, PolicyConfig, load_config


def test_defaults_are_the_policy_table() -> None:
    c = PolicyConfig()
    assert (c.device_window_ms, c.amber_threshold, c.red_threshold, c.code_window_ms,
            c.code_limit, c.throttle_mode, c.throttle_n, c.throttle_period_ms,
            c.summary_interval_ms) == (3_600_000, 50, 100, 3_600_000, 10, 1, 10, 3_600_000,
                                       900_000)
    assert c.never_throttle == (0x8F3F, 0x8F1C, 0x8F1D, 0x8F35, 0x8F36, 0x8F74, 0x8F76)


def test_codes_and_mode_names() -> None:
    c = PolicyConfig.from_dict({"never_throttle": ["0x8F3F", 36636, "8f1d"],
                                "throttle_mode": "one_per_period"})
    assert c.never_throttle == (0x8F3F, 0x8F1C, 0x8F1D)
    assert c.throttle_mode == ONE_PER_PERIOD
    assert PolicyConfig.from_dict({"throttle_mode": 2}).throttle_mode == ONE_PER_PERIOD


@pytest.mark.parametrize("key,lo,hi", [
    ("device_window_ms", 1000, 86_400_000), ("code_window_ms", 1000, 86_400_000),
    ("throttle_period_ms", 1000, 86_400_000), ("summary_interval_ms", 1000, 86_400_000),
    ("red_threshold", 1, 65535), ("code_limit", 0, 65535), ("throttle_n", 1, 65535)])
def test_ranges_exactly(key: str, lo: int, hi: int) -> None:
    extra = {"amber_threshold": 1} if key == "red_threshold" else {}
    assert getattr(PolicyConfig.from_dict({key: lo, **extra}), key) == lo
    assert getattr(PolicyConfig.from_dict({key: hi, **extra}), key) == hi
    for bad in (lo - 1, hi + 1):
        with pytest.raises(ConfigError, match=key):
            PolicyConfig.from_dict({key: bad, **extra})


@pytest.mark.parametrize("d,key", [
    ({"amber_threshold": 0}, "amber_threshold"),
    ({"amber_threshold": 101}, "amber_threshold"),          # above red 100
    ({"nonsense": 1}, "nonsense"),
    ({"throttle_mode": "fast"}, "throttle_mode"),
    ({"throttle_mode": 3}, "throttle_mode"),
    ({"device_window_ms": True}, "device_window_ms"),
    ({"device_window_ms": "5000"}, "device_window_ms"),
    ({"never_throttle": "0x8F3F"}, "never_throttle"),
    ({"never_throttle": ["0x1FFFF"]}, "never_throttle"),
    ({"never_throttle": ["zz"]}, "never_throttle"),
    ({"never_throttle": [1, 1]}, "never_throttle"),
    ({"never_throttle": list(range(17))}, "never_throttle"),
])
def test_errors_name_the_key(d: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        PolicyConfig.from_dict(d)


def test_amber_equal_red_is_allowed() -> None:
    assert PolicyConfig.from_dict({"amber_threshold": 100}).amber_threshold == 100


def test_files_json_and_toml(tmp_path) -> None:
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"red_threshold": 60, "never_throttle": ["0x8F3F"]}))
    t = tmp_path / "c.toml"
    t.write_text('red_threshold = 60\nthrottle_mode = "one_per_period"\n'
                 'never_throttle = ["0x8F3F", 0x8F1C]\n')
    assert load_config(j).red_threshold == 60
    c = load_config(t)
    assert c.throttle_mode == ONE_PER_PERIOD and c.never_throttle == (0x8F3F, 0x8F1C)
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="bad.json"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad.write_text('{"code_limit": -1}')
    with pytest.raises(ConfigError, match="bad.json: code_limit"):
        load_config(bad)


def test_round_trip_and_device_conversion() -> None:
    c = PolicyConfig.from_dict({"throttle_mode": "one_per_period", "never_throttle": [1, 2]})
    assert PolicyConfig.from_dict(c.to_dict()) == c
    d = c.to_device_dict()
    assert d["throttle_mode"] == 2 and d["never_throttle"] == [1, 2]
    from firmware_model.limiter import Config  # the device accepts exactly this form
    dc = Config.from_dict(d)
    assert dc.throttle_mode == 2 and dc.never_throttle == (1, 2)


def test_host_config_does_not_import_the_device_limiter() -> None:
    import subprocess
    import sys
    code = ("import sys, hil.model.policy, hil.model.dsp, hil.model.incidents, hil.model.streams; "
            "print([m for m in sys.modules if m.startswith('firmware_model')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_parse_code() -> None:
    assert parse_code("0x8f3f") == parse_code("8F3F") == parse_code(0x8F3F) == 0x8F3F
    with pytest.raises(ConfigError):
        parse_code(True)
