"""The comparison as it streams (hil/compare/session.py, partition.py, the engines): bounded
state within a storming device, the table-eviction replay forked from the board, fate rows
held while a knob is undetermined, and the same result field for field whatever the engine,
the number of workers and the partitioning."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hil.compare import (
    CompareResult,
    DeviceReplay,
    DeviceSession,
    Latency,
    LocalEngine,
    Perturbations,
    RealCheck,
    Setup,
    compare_device,
    compare_stream,
    sessions,
)
from hil.compare import session as session_mod
from hil.compare.session import Plan
from hil.compare.settings import MAX_SLOTS, seeded_draws, seeded_rng
from hil.model.policy import PolicyConfig
from hil.model.streams import Alert, DspResult

ROOT = Path(__file__).resolve().parent.parent
CFG = PolicyConfig(device_window_ms=10_000, amber_threshold=5, red_threshold=10,
                   code_window_ms=10_000, code_limit=3, throttle_n=4, summary_interval_ms=5_000)
CODES = (0x8F01, 0x8F02, 0x8F03, 0x8F04, 0x8F3F)


def storm(devices: tuple[str, ...] = ("D1",), n: int = 1500, seed: int = 1,
          codes: tuple[int, ...] = CODES,
          steps: tuple[int, ...] = (5, 20, 100, 400, 1500, 6000)) -> list[Alert]:
    rng = random.Random(seed)
    out, t = [], 1_000_000
    for i in range(n):
        t += rng.choice(steps)
        out.append(Alert(i, rng.choice(devices), t, rng.choice(codes), None, i + 1))
    return out


def doc(r: CompareResult) -> dict[str, Any]:
    d = r.to_dict()
    d.pop("partitions", None)
    return d


def test_seeded_draws_are_randint() -> None:
    for hi in (1, 2, 7, 8, 2000, 65535):
        rng = seeded_rng(3, "x", hi)
        draw = seeded_draws(hi, 3, "x", hi)
        assert [rng.randint(0, hi) for _ in range(3000)] == [draw() for _ in range(3000)]


def test_a_storming_device_is_held_in_bounded_state() -> None:
    # one device storming for hours with 2 s of WAN jitter: what the session holds at any
    # time is the alerts of the last few seconds, not the storm
    setup = Setup(CFG, CFG.replace(throttle_n=3), Perturbations(latency=Latency(50, 2000),
                                                                slots=2))
    plan = Plan(setup)
    s = DeviceSession(plan, "D1", 1_000_000, 0)
    most = 0
    t = 1_000_000
    rng = random.Random(5)
    for i in range(30_000):
        t += rng.choice((0, 10, 50, 100, 300))
        s.push(t, CODES[i % 5], None, i, i + 1)
        most = max(most, len(s.queue), len(s.on.heap), len(s.behind.heap))
    total = CompareResult()
    s.close(total)
    assert total.counters["alerts"] == 30_000 and total.counters["device_sessions"] == 1
    # 30,000 alerts over about 45 minutes; at most ~2 s of them (10 ms apart at the densest)
    assert most < 400, most


def test_the_widened_board_is_a_larger_table_from_the_start() -> None:
    # up to the alert that brings the 17th code the 16-slot board moves into a 255-slot table
    # and goes on exactly as a board that had 255 slots all along, across snapshot resets
    rng = random.Random(2)
    codes = [0x8F00 + k for k in range(40)]
    alerts, t = [], 5_000
    for i in range(3000):
        t += rng.choice((0, 20, 100, 250, 900))
        k = 12 if i < 1500 else 40  # 12 codes, then 40
        alerts.append(Alert(i, "D1", t, rng.choice(codes[:k]), None, i + 1))
    p = Perturbations(resets=(("D1", alerts[700].t_ms, "hard"), ("D1", alerts[2200].t_ms, "soft")),
                      reset_mode="snapshot", snapshot_interval_ms=3_000, slots=16)
    wide = DeviceReplay(CFG, p, slots=MAX_SLOTS).run(alerts)
    board = DeviceReplay(CFG, p).start("D1", alerts[0].t_ms)
    dec = [board.alert(i, a.code, a.t_ms) for i, a in enumerate(alerts[:1500])]
    board = board.widened(MAX_SLOTS)
    dec += [board.alert(i, a.code, a.t_ms) for i, a in enumerate(alerts[1500:], 1500)]
    board.finish()
    assert dec == wide.dec
    assert board.reported == wide.reported
    assert wide.overflow_uses == 0 and DeviceReplay(CFG, p).run(alerts).overflow_uses > 0


def test_table_eviction_is_attributed_as_the_held_session_was() -> None:
    # more codes than slots: the replay without eviction forks from the board mid-session
    alerts = storm(n=3000, seed=4, codes=tuple(range(0x8F01, 0x8F0B)),
                   steps=(0, 5, 20, 50, 100, 300))
    setup = Setup(CFG, CFG, Perturbations(slots=3, latency=Latency(0, 400), skew_ppm=2_000))
    res, rows = compare_device(alerts, setup, fates=True)
    assert "table_eviction" in {c for d in res.causes.values() for c in d}
    assert len(rows) == 3000 and [r["seq"] for r in rows] == list(range(3000))


def test_held_fate_rows_spill_to_a_file_and_come_back_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_mod, "HOLD_IN_MEMORY", 7)
    held = session_mod._HeldRows()
    got = []
    for k in range(100):
        held.append(({"k": k}, k, False, False))
        if k % 9 == 0:  # take some out as they come, as a session does when a knob settles
            while (e := held.first()) is not None and e[1] % 4:
                got.append(e[1])
                held.pop()
    while (e := held.first()) is not None:
        got.append(e[1])
        held.pop()
    assert got == list(range(100))


def test_results_merge_the_same_in_any_order() -> None:
    alerts = storm(tuple(f"D{i}" for i in range(8)), n=5000, seed=6,
                   steps=(0, 5, 20, 100, 400))
    setup = Setup(CFG, CFG.replace(throttle_n=3), Perturbations(latency=Latency(0, 900)))
    parts = []
    for s in sessions(alerts, setup.horizon_ms):
        parts.append(compare_device(s, setup, max_examples=5)[0])
    assert sum(len(p.examples) for p in parts) > 5
    ref = None
    rng = random.Random(1)
    for _ in range(4):
        rng.shuffle(parts)
        total = CompareResult(max_examples=5)
        for p in parts:
            total.merge(p)
        ref = ref or doc(total)
        assert doc(total) == ref


def _fates(alerts: list[Alert], setup: Setup, **kw: Any) -> tuple[dict[str, Any], list[Any]]:
    rows: list[dict[str, Any]] = []
    res = compare_stream(alerts, setup, on_fates=rows.extend, **kw)
    return doc(res), sorted(rows, key=lambda r: r["seq"])


ENGINE_SETUP = Setup(CFG, CFG.replace(throttle_n=3),
                     Perturbations(latency=Latency(20, 1500), skew_ppm=-20_000, slots=3,
                                   resets=(("D3", 1_200_000, "hard"),), reset_mode="snapshot",
                                   snapshot_interval_ms=4_000))


def _engine_stream() -> list[Alert]:
    # six devices, storming now and then, with quiet spells that end their sessions
    return storm(tuple(f"D{i}" for i in range(6)), n=6000, seed=7,
                 codes=(*CODES, 0x8F05, 0x8F06), steps=(0, 5, 20, 50, 100, 300) * 60 + (40_000,))


def test_worker_processes_and_partitions_give_the_same_result_field_for_field() -> None:
    alerts = _engine_stream()
    ref = _fates(alerts, ENGINE_SETUP)
    assert sum(ref[0]["divergences"].values()) > 0
    for jobs, parts in ((1, 3), (2, 2), (2, 7)):
        got = _fates(alerts, ENGINE_SETUP, engine=LocalEngine(jobs=jobs, partitions=parts,
                                                              batch_size=64))
        assert got == ref, (jobs, parts)


def test_the_dask_engine_gives_the_same_result_field_for_field() -> None:
    from hil.compare.engine_dask import DaskEngine  # dask only for the dask engine's tests

    alerts = _engine_stream()
    ref = _fates(alerts, ENGINE_SETUP)
    rows: list[dict[str, Any]] = []
    res = compare_stream(alerts, ENGINE_SETUP, on_fates=rows.extend,
                         engine=DaskEngine(jobs=2, partitions=5, batch_size=256))
    assert (doc(res), sorted(rows, key=lambda r: r["seq"])) == ref
    parts = res.to_dict()["partitions"]
    assert parts["engine"] == "dask" and parts["count"] == 5 and parts["workers"] == 2
    assert sum(parts["alerts"]) == len(alerts) and len(parts["worker_seconds"]) == 2
    # the load is each partition's CPU time: every partition with devices took some
    assert len(parts["cpu_seconds"]) == 5 and parts["load_max_over_mean"] >= 1.0
    assert all(c > 0 for c, n in zip(parts["cpu_seconds"], parts["alerts"], strict=True) if n)
    # a session's rows arrive in its order
    by_dev: dict[str, list[int]] = {}
    for r in rows:
        by_dev.setdefault(r["device_id"], []).append(r["seq"])
    assert all(v == sorted(v) for v in by_dev.values())


def _hil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hil.cli", "compare", *args],
                          capture_output=True, text=True, timeout=300)


def test_hil_compare_joins_a_running_cluster(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text("".join(json.dumps({"device_id": a.device, "t_ms": a.t_ms,
                                          "alert_code": a.code}) + "\n"
                              for a in _engine_stream()[:3000]))
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(CFG.to_dict()))
    common = ["--alerts", str(alerts), "--config", str(cfg), "--latency-ms", "0-900",
              "--slots", "3", "--json", "-"]
    local = _hil(*common)
    assert local.returncode == 0, local.stderr
    sched_file = tmp_path / "scheduler.json"
    env = os.environ | {"PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    dask = [sys.executable, "-m"]
    procs = [subprocess.Popen([*dask, "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file",
                               str(sched_file)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(subprocess.Popen([*dask, "distributed.cli.dask_worker", address,
                                       "--nthreads", "1", "--no-dashboard", "--host",
                                       "127.0.0.1", "--no-nanny"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        joined = _hil(*common, "--scheduler", address, "--partitions", "3")
        assert joined.returncode == 0, joined.stderr
    finally:
        # the worker first: a worker whose scheduler went first may wait a long time to leave
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    a, b = json.loads(local.stdout), json.loads(joined.stdout)
    assert b["partitions"]["engine"] == "dask" and b["partitions"]["count"] == 3
    assert a["partitions"]["engine"] == "local"
    for d in (a, b):
        d.pop("partitions")
    assert a == b


def test_an_arrival_before_its_event_time_is_a_bad_row() -> None:
    a = [Alert(0, "A", 10, 1, 15, 1), Alert(1, "A", 20, 1, 19, 2), Alert(2, "A", 30, 1, 30, 3)]
    errors: list = []
    got = list(itertools.chain.from_iterable(sessions(a, horizon_ms=100, errors=errors)))
    assert [x.seq for x in got] == [0, 2]
    assert [(e.line, e.reason) for e in errors] == [(2, "arrival_ms 19 is before t_ms 20")]


def test_the_real_dsp_check_is_the_same_whatever_the_engine() -> None:
    alerts = _engine_stream()
    _, rows = _fates(alerts, ENGINE_SETUP)
    real = [DspResult(r["device_id"], int(r["alert_code"], 16), r["t_ms"],
                      (r["dsp"] == "forwarded") != (r["seq"] % 97 == 0), None, None, None,
                      r["seq"] + 2) for r in rows]
    docs = []
    for engine in (None, LocalEngine(jobs=2, partitions=5, batch_size=64)):
        check = RealCheck.load(real)
        compare_stream(alerts, ENGINE_SETUP, on_fates=check, engine=engine)
        check.finish()
        docs.append(check.to_dict())
    assert docs[0] == docs[1] and len(docs[0]["examples"]) == 20


def test_the_benchmark_stream_is_the_one_randint_draws() -> None:
    # benchmarks/bench_compare.py draws its stream without randint's call layers: it must be
    # the same stream, or its figures are not comparable with the ones recorded before
    from benchmarks.bench_compare import generate, generate_plain

    for devices in (100_000, 7, 1):
        assert list(generate(20_000, devices, seed=3)) == list(generate_plain(20_000, devices,
                                                                              seed=3))


def test_the_collector_is_off_during_a_comparison_and_back_after_even_a_failed_one() -> None:
    import gc

    seen: list[bool] = []

    def alerts(fail: bool) -> Any:
        for a in storm(n=300):
            seen.append(gc.isenabled())
            yield a
        if fail:
            raise RuntimeError("the input broke")

    assert gc.isenabled()
    compare_stream(alerts(False), ENGINE_SETUP)
    assert gc.isenabled() and seen and not any(seen)
    with pytest.raises(RuntimeError, match="the input broke"):
        compare_stream(alerts(True), ENGINE_SETUP)
    assert gc.isenabled()
    gc.disable()  # a caller that runs without it keeps it off
    try:
        compare_stream(alerts(False), ENGINE_SETUP)
        assert not gc.isenabled()
    finally:
        gc.enable()
