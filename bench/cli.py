"""`python -m bench [--quick] [--out DIR]`: measure, then write DIR/REPORT.md and its plots (default bench/results).

(The worker functions live here, not in __main__, so that spawned worker processes can import them.)

Start-up is measured first, alone, because it is real time; the virtual-time sections then run in parallel worker
processes (one fresh process per piece of work, so that no sandbox state leaks between them).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from bench import REPO, fleet, report, single, startup

FULL_DURATIONS = 24
QUICK_DURATIONS = 6
QUICK_HIGHEST = 300.0
FULL_IMPORT_RUNS = 15
QUICK_IMPORT_RUNS = 3


def _quietly(work: Callable[..., Any], *args: Any) -> Any:
    """Run in a worker: the handlers' own logs (stdout, stderr) are not the benchmark's output."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        return work(*args)


def _sweep(count: int, highest: float) -> list[dict[str, Any]]:
    return single.run_sweep(count, highest)


def _scenario(name: str, quick: bool) -> list[dict[str, Any]]:
    return fleet.run_scenarios([name], quick)


def _note(message: str, started: float) -> None:
    print(f"[bench {time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run (< 60 s): fewer durations, a small fleet")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="where REPORT.md goes")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the virtual-time sections")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths = [str(REPO / "src"), str(REPO / "src" / "handler"), str(REPO), os.environ.get("PYTHONPATH", "")]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)  # for the probes' subprocesses

    _note("start-up: fresh-process imports" + ("" if args.quick else ", lifecycle memory, sam build"), started)
    startup_results = startup.run_startup(
        QUICK_IMPORT_RUNS if args.quick else FULL_IMPORT_RUNS, with_package=not args.quick
    )

    count, highest = (QUICK_DURATIONS, QUICK_HIGHEST) if args.quick else (FULL_DURATIONS, 1800.0)
    names = fleet.scenario_names(args.quick)
    names.sort(key=lambda name: -fleet.cost_hint(name, args.quick))  # longest first: the pool stays busy
    _note(f"virtual time: {count} durations x 2 handlers, fleets {', '.join(names)} ({args.jobs} workers)", started)
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        fleet_futures = {name: pool.submit(_quietly, _scenario, name, args.quick) for name in names[:1]}
        sweep_future = pool.submit(_quietly, _sweep, count, highest)
        fleet_futures.update({name: pool.submit(_quietly, _scenario, name, args.quick) for name in names[1:]})
        single_results = sweep_future.result()
        _note("single-resource sweep done", started)
        fleet_results = []
        for name in fleet.scenario_names(args.quick):
            fleet_results += fleet_futures[name].result()
            _note(f"fleet {name} done", started)

    data = {
        "meta": {
            "quick": args.quick,
            "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "python": f"Python {platform.python_version()}",
            "cpus": os.cpu_count(),
            "wall_seconds": time.perf_counter() - started,
        },
        "single": single_results,
        "startup": startup_results,
        "fleet": fleet_results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    written = report.write(data, args.out)
    _note(f"wrote {', '.join(str(p) for p in written)}", started)
    for verdict in report.verdicts(data):
        print(
            f"{'MET    ' if verdict.met else 'NOT MET' if verdict.met is False else 'n/a    '} {verdict.target}: "
            f"{verdict.measured}"
        )
    return 0
