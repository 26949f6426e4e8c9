"""List the boards defined in boards/*.toml and the serial ports attached now, each port with
the board files whose [[match]] (USB vid/pid, serial number) it satisfies."""

from __future__ import annotations

import argparse
import json
from typing import Any

HELP = "list defined boards and attached serial ports matched to them"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from hil.board import all_boards, attached_ports

    boards = all_boards()
    ports = attached_ports()
    rows: list[dict[str, Any]] = []
    for b in boards:
        status = b.absent_reason() or "available"
        rows.append({"name": b.name, "kind": b.spec.kind, "engine": b.spec.engine,
                     "role": b.role, "limiter": b.spec.limiter, "file": b.spec.path,
                     "match": [{"vid": f"{m.vid:04X}" if m.vid is not None else None,
                                "pid": f"{m.pid:04X}" if m.pid is not None else None,
                                "serial": m.serial} for m in b.spec.match],
                     "status": status})
    if args.json:
        print(json.dumps({"boards": rows, "ports": ports}, indent=1))
        return 0
    print("defined boards:")
    for r in rows:
        m = " ".join(f"{x['vid']}:{x['pid']}" + (f"/{x['serial']}" if x["serial"] else "")
                     for x in r["match"])
        print(f"  {r['name']:16s} {r['kind']:9s} {r['engine']:12s} {r['role']}/{r['limiter']:6s}"
              f" {m:22s} {r['status']}")
    print("attached serial ports:")
    if not ports:
        print("  none")
    for p in ports:
        vid = f"{p['vid']:04X}:{p['pid']:04X}" if p["vid"] is not None else "-"
        print(f"  {p['device']:16s} {vid:10s} serial={p['serial'] or '-'} "
              f"-> {', '.join(p['boards']) or 'no board file matches'}")
    return 0
