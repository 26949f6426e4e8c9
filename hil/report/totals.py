"""What every report of a run quotes: the run's totals (verdict counts, wall time per board
and per scenario, whether the night is ok) and which of a result's metrics are worth showing."""

from __future__ import annotations

from typing import Any

from hil.harness.results import ERROR, FAIL, PASS, SKIPPED, TOO_LARGE, ScenarioResult

# shown per result, in this order, on the HTML page and in JUnit's system-out
KEY_METRICS = ("offered", "device_forwarded", "device_suppressed", "dsp_forwarded",
               "dsp_suppressed", "wan_frames", "wan_frames_saved", "wan_reduction_pct",
               "critical_lost", "divergences", "count_mismatches", "divergences_unknown",
               "model_mismatch", "unaccounted_suppressed")


def summary(results: list[ScenarioResult]) -> dict[str, Any]:
    counts = {v: sum(1 for r in results if r.verdict == v)
              for v in (PASS, FAIL, ERROR, TOO_LARGE, SKIPPED)}
    per_board: dict[str, float] = {}
    per_scenario: dict[str, float] = {}
    for r in results:
        per_board[r.board] = round(per_board.get(r.board, 0.0) + r.wall_s, 3)
        per_scenario[r.scenario] = round(per_scenario.get(r.scenario, 0.0) + r.wall_s, 3)
    return {"counts": counts, "total": len(results), "wall_s_per_board": per_board,
            "wall_s_per_scenario": per_scenario,
            "ok": counts[FAIL] == 0 and counts[ERROR] == 0}
