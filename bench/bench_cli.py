"""Start-up benchmark: `dlenv --help`, one `render`, `render --all`, against bare Python.

Side by side in one run, median of N runs each; writes bench/results/cli.json.
    .venv/bin/python bench/bench_cli.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "python -c pass (baseline)": [py, "-c", "pass"],
            "dlenv --help": [py, "-m", "builder", "--help"],
            "dlenv render pytorch-cuda": [py, "-m", "builder", "render", "pytorch-cuda"],
            "dlenv render --all": [py, "-m", "builder", "render", "--all", "--root", tmp],
            "dlenv render --all --check": [py, "-m", "builder", "render", "--all", "--check"],
        }
        results = {name: timed(cmd, args.runs) for name, cmd in cases.items()}
    imports = (
        subprocess.run(
            [
                py,
                "-c",
                "import sys; from builder.cli import app; sys.argv=['dlenv','render','pytorch-cpu'];\n"
                "try: app()\nexcept SystemExit: pass\n"
                "heavy = {'docker', 'testcontainers', 'requests'}\n"
                "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    base = results["python -c pass (baseline)"]
    print(f"{'command':32} {'median s':>9} {'x python':>9}")
    for name, seconds in results.items():
        print(f"{name:32} {seconds:9.3f} {seconds / base:9.1f}")
    print(f"heavy modules imported by render: {imports}")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "cli.json").write_text(
        json.dumps({"runs": args.runs, "median_seconds": results, "render_heavy_imports": imports}, indent=2)
    )


if __name__ == "__main__":
    main()
