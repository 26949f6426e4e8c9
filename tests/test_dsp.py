"""DSP model (hil/model/dsp.py) against expectations derived by hand from docs/policy.md."""

from __future__ import annotations

import pytest

from hil.model.dsp import AMBER, FORWARD, NORMAL, RED, STARTED, SUPPRESS, DspFilter
from hil.model.incidents import MemorySink, SqliteIncidentStore
from hil.model.policy import ONE_PER_PERIOD, PolicyConfig

F, S, FS = FORWARD, SUPPRESS, FORWARD | STARTED
C1, C2, NEVER = 0x8F01, 0x8F02, 0x8F3F

# small numbers so that every expectation below can be checked by hand
SMALL = PolicyConfig(device_window_ms=10_000, amber_threshold=2, red_threshold=4,
                     code_window_ms=10_000, code_limit=2, throttle_n=3)


def run(f: DspFilter, device: str, items: list[tuple[int, int]]) -> list[int]:
    return [f.offer(device, code, t) for t, code in items]


def test_healthy_device_is_never_filtered() -> None:
    f = DspFilter(SMALL)
    # 3 alerts in a window: below red (4), so all forwarded, however repetitive
    assert run(f, "A", [(0, C1), (1, C1), (2, C1)]) == [F, F, F]
    assert f.level("A") == AMBER and f.amber_events == 1 and f.red_events == 0


def test_one_in_n_after_red_and_code_limit() -> None:
    f = DspFilter(SMALL)
    out = run(f, "A", [(i, C1) for i in range(14)])
    # alerts 0..2 normal/amber; alert 3 brings the device to red (count 4) and is the code's
    # 1st count; codes 1st..2nd forwarded (<= limit 2); the 3rd (alert 5) is > 2: episode
    # starts (FS); then one in three: S S F S S F ...
    assert out == [F, F, F, F, F, FS, S, S, F, S, S, F, S, S]
    assert f.level("A") == RED


def test_throttled_count_and_sequence_id() -> None:
    f = DspFilter(SMALL)
    seen = []
    for i in range(12):
        r = f.offer("A", C1, 100 * i)
        seen.append((r, f.throttled_count, f.sequence_id))
    assert seen[5] == (FS, 0, 500)          # episode starts: sequence id = its receipt time
    assert seen[6] == (S, 0, 0) and seen[7] == (S, 0, 0)
    assert seen[8] == (F, 2, 500)           # two discarded since the previous forwarded one
    assert seen[11] == (F, 2, 500)


def test_never_throttle_is_counted_per_device_but_never_per_code() -> None:
    f = DspFilter(SMALL)
    out = run(f, "A", [(i, NEVER) for i in range(20)])
    assert out == [F] * 20
    assert f.level("A") == RED          # they do count towards the device window
    # and a throttleable code is now counted from its first alert while red
    assert run(f, "A", [(20, C1), (21, C1), (22, C1), (23, C1)]) == [F, F, FS, S]


def test_codes_are_counted_separately() -> None:
    f = DspFilter(SMALL)
    run(f, "A", [(i, C1) for i in range(8)])
    # C2's own window starts now: its first two alerts are within the limit
    assert run(f, "A", [(8, C2), (9, C2), (10, C2)]) == [F, F, FS]


def test_one_per_period() -> None:
    cfg = SMALL.replace(throttle_mode=ONE_PER_PERIOD, throttle_period_ms=1000,
                        code_window_ms=50_000, device_window_ms=50_000)
    f = DspFilter(cfg)
    run(f, "A", [(i, C1) for i in range(5)])  # red at alert 3; code counts 1, 2
    assert f.offer("A", C1, 5) == FS            # count 3 > 2, last_forward = 5
    assert run(f, "A", [(500, C1), (1004, C1), (1005, C1), (2004, C1)]) == [S, S, F, S]
    assert f.throttled_count == 0
    assert f.offer("A", C1, 2005) == F and f.throttled_count == 1


def test_red_clears_after_one_full_window_below_red() -> None:
    f = DspFilter(SMALL)
    run(f, "A", [(i, C1) for i in range(8)])    # window [0, 10000): 8 alerts, red
    # next window [10000, 20000): prev = 8 >= 4 keeps the device red the whole window
    assert f.offer("A", C1, 15_000) in (F, S)
    assert f.level("A") == RED
    # window [20000, 30000): prev = 1 (below red), count 1: not red: code state cleared
    assert f.offer("A", C1, 25_000) == F
    assert f.level("A") == NORMAL
    assert run(f, "A", [(25_001, C1), (25_002, C1)]) == [F, F]


def test_overload_clears_after_one_full_code_window_at_or_below_limit() -> None:
    cfg = SMALL.replace(device_window_ms=100_000, code_window_ms=1000)
    f = DspFilter(cfg)
    assert run(f, "A", [(i, C1) for i in range(6)]) == [F, F, F, F, F, FS]
    # code window [3, 1003) has 3 > 2; [1003, 2003): 1 alert, still overloaded via prev
    assert f.offer("A", C1, 1500) in (S, F)
    # [2003, 3003): prev 1 <= 2, count 1: no longer overloaded -> forwarded
    assert f.offer("A", C1, 2500) == F
    # two more in that window: count 3 > 2 -> a new episode starts
    assert run(f, "A", [(2501, C1), (2502, C1)]) == [F, FS]


def test_edge_values() -> None:
    # code_limit 0: overloaded at its first alert while red; throttle_n 1 forwards everything
    cfg = SMALL.replace(code_limit=0, throttle_n=1, amber_threshold=4)
    f = DspFilter(cfg)
    assert run(f, "A", [(i, C1) for i in range(6)]) == [F, F, F, FS, F, F]
    assert f.amber_events == 1 and f.red_events == 1  # amber == red: both crossings counted


def test_saturation() -> None:
    cfg = SMALL.replace(red_threshold=1, amber_threshold=1, code_limit=65535,
                        device_window_ms=86_400_000, code_window_ms=86_400_000)
    f = DspFilter(cfg)
    d = None
    for i in range(200):
        f.offer("A", C1, i)
    d = f._devices["A"]
    d.count = (1 << 30) - 1
    f.offer("A", C1, 300)
    assert d.count == (1 << 30) - 1


def test_devices_are_independent() -> None:
    f = DspFilter(SMALL)
    run(f, "A", [(i, C1) for i in range(10)])
    assert run(f, "B", [(10 + i, C1) for i in range(4)]) == [F, F, F, F]
    assert f.level("B") == RED and f.active_devices == 2


def test_idle_devices_are_evicted_and_records_closed() -> None:
    sink = MemorySink()
    f = DspFilter(SMALL, sink)
    for dev in ("A", "B", "C"):
        run(f, dev, [(i, C1) for i in range(8)])
    assert f.active_devices == 3
    # one alert 3 windows later from another device: the sweep evicts A, B, C
    f.offer("Z", C1, 30_000)
    assert f.active_devices == 1 and f.evicted == 3
    closed = [e for e in sink.events if e[0] == "throttled" and e[5] == "episode_closed"]
    assert sorted(e[1] for e in closed) == ["A", "B", "C"]
    # A's window [0, 10000) had 8 >= 4: red until 20000; that is where things close. B and C
    # were offered at times 0..7 after A's 7: the receipt clock held them at 7 (clamped)
    assert f.clamped == 14
    assert sorted(e[4] for e in closed) == [20_000, 20_007, 20_007]
    assert sorted(e[3] for e in sink.events if e[0] == "incident_resolved") == [
        20_000, 20_007, 20_007]
    # evicted state equals fresh state: A starts over
    assert run(f, "A", [(30_001, C1)]) == [F] and f.level("A") == NORMAL


def test_late_arrivals_are_processed_at_the_receipt_clock() -> None:
    f = DspFilter(SMALL)
    f.offer("A", C1, 5000)
    f.offer("A", C1, 4000)  # an unsorted input: the receipt clock does not go back
    assert f.clamped == 1
    # both are in the window opened at 5000: the grid is anchored at 5000, not 4000
    assert f._devices["A"].start == 5000 and f._devices["A"].count == 2


def test_incident_store_records_amber_red_and_request_management() -> None:
    store = SqliteIncidentStore(batch=3)
    f = DspFilter(SMALL, store)
    for i in range(12):
        f.offer("A", C1, 100 * i)
    f.finish()
    assert store.query("SELECT device_id, t_ms, count FROM security_log") == [("A", 100, 2)]
    assert store.query("SELECT device_id, opened_ms, crossings, resolved_ms FROM incidents") == [
        ("A", 300, 1, 20_000)]
    rows = store.query("SELECT sequence_id, t_ms, kind, throttled_count, episode_total "
                       "FROM request_management ORDER BY id")
    # alerts 6,7 and 9,10 discarded; 8 and 11 forwarded carrying 2 each; nothing residual
    assert rows == [(500, 500, "forwarded", 0, 0), (500, 800, "forwarded", 2, 2),
                    (500, 1100, "forwarded", 2, 4), (500, 20_000, "episode_closed", 0, 4)]
    names = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"security_log_device", "incidents_unresolved", "request_management_episode"} <= names


def test_incident_store_on_file(tmp_path) -> None:
    path = tmp_path / "dsp.sqlite"
    store = SqliteIncidentStore(path)
    f = DspFilter(SMALL, store)
    for i in range(6):
        f.offer("A", C1, i)
    store.close()
    import sqlite3
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM incidents").fetchone() == (1,)


def test_red_crossing_again_while_incident_open_updates_it() -> None:
    store = SqliteIncidentStore()
    f = DspFilter(SMALL, store)
    run(f, "A", [(i, C1) for i in range(5)])
    run(f, "A", [(10_000 + i, C1) for i in range(5)])   # still red (prev), crosses again
    f.finish()
    assert store.query("SELECT opened_ms, crossings, last_crossing_ms FROM incidents") == [
        (3, 2, 10_003)]


@pytest.mark.parametrize("bad", [{"red_threshold": 0}, {"nope": 1}])
def test_bad_config_is_rejected_before_any_state(bad: dict) -> None:
    from hil.errors import ConfigError
    with pytest.raises(ConfigError):
        DspFilter(PolicyConfig.from_dict(bad))
