"""`make bench-quick`: the benchmark still runs end to end and writes every section (no timing assertions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECTIONS = ("## Targets", "## 1. Signal lag", "## 2. Economy", "## 3. Start-up and footprint", "## 4. Fleet")
PLOTS = ("lag.png", "economy.png", "startup.png", "fleet.png")


@pytest.mark.smoke
def test_the_quick_benchmark_writes_the_report_and_its_plots(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (REPO / "src", REPO / "src" / "handler", REPO))
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in report
    for target in ("Lag p95", "Describe calls", "Lambda-seconds", "Start-up", "Deployment package", "Fleet of 100"):
        assert target in report
    for plot in PLOTS:
        content = (tmp_path / plot).read_bytes()
        assert content.startswith(b"\x89PNG") and len(content) > 5000
        assert f"]({plot})" in report
    assert (tmp_path / "results.json").exists()
