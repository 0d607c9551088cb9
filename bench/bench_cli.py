"""Start-up benchmark: how long users wait for the commands that should answer at once.

Side by side in one run, interleaved (one of each per round), median of N rounds:
bare Python, `dlenv --help`, `profiles`, `validate` and `render pytorch-cuda` from the answer
memo and without it (DLENV_NO_CACHE=1), `render --all --check`, and hpccm rendering a comparable
recipe (bench/hpccm_recipe.py). hpccm comes from PyPI into bench/.hpccm-venv on first use.
`--against REV` adds the same start-up commands run from a git worktree of REV (for example
the commit before a change), in the same rounds, so before and after are measured side by side.
Writes bench/results/cli.json.

    .venv/bin/python bench/bench_cli.py [--rounds N] [--against REV]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HPCCM_VENV = REPO / "bench" / ".hpccm-venv"


def hpccm() -> list[str]:
    """The hpccm command, installed into a venv of its own the first time."""
    exe = HPCCM_VENV / "bin" / "hpccm"
    if not exe.exists():
        venv.create(HPCCM_VENV, with_pip=True)
        subprocess.run([str(HPCCM_VENV / "bin" / "pip"), "install", "-q", "hpccm"], check=True)
    return [str(exe), "--recipe", str(REPO / "bench" / "hpccm_recipe.py"), "--format", "docker"]


def run_once(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def worktree(rev: str, into: Path) -> Path:
    """A detached checkout of REV; `python -m builder` run there imports that revision."""
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(into), rev], check=True)
    probe = subprocess.run(
        [sys.executable, "-c", "import builder; print(builder.__file__)"],
        cwd=into,
        check=True,
        capture_output=True,
        text=True,
    )
    if not probe.stdout.startswith(str(into)):
        sys.exit(f"python imports builder from {probe.stdout.strip()}, not from the worktree of {rev}")
    return into


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--against", metavar="REV", help="also time these commands at git revision REV")
    args = parser.parse_args()
    py = sys.executable
    dlenv = [py, "-m", "builder"]
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "DLENV_CACHE_DIR": scratch}
        no_cache = {**env, "DLENV_NO_CACHE": "1"}
        for command in ("render", "validate"):  # fill the memo
            subprocess.run([*dlenv, command, "pytorch-cuda"], env=env, check=True, capture_output=True)
        fresh = Path(scratch) / "fresh.yaml"
        builtin = (REPO / "builder" / "profile" / "builtin" / "pytorch-cuda.yaml").read_text()
        cases: dict[str, tuple[list[str], dict[str, str], Path]] = {
            "python -c pass (baseline)": ([py, "-c", "pass"], env, REPO),
            "dlenv --help": ([*dlenv, "--help"], env, REPO),
            "dlenv profiles": ([*dlenv, "profiles"], env, REPO),
            "dlenv validate pytorch-cuda": ([*dlenv, "validate", "pytorch-cuda"], env, REPO),
            "dlenv validate, memo off": ([*dlenv, "validate", "pytorch-cuda"], no_cache, REPO),
            "dlenv render pytorch-cuda": ([*dlenv, "render", "pytorch-cuda"], env, REPO),
            "hpccm comparable recipe": (hpccm(), env, REPO),
            "dlenv render, memo off": ([*dlenv, "render", "pytorch-cuda"], no_cache, REPO),
            # A profile never rendered before, on a machine that rendered others (templates compiled).
            "dlenv render, new profile": ([*dlenv, "render", str(fresh)], env, REPO),
            "dlenv render --all --check": ([*dlenv, "render", "--all", "--check"], env, REPO),
        }
        old = worktree(args.against, Path(scratch) / "against") if args.against else None
        if old is not None:
            for words in (["--help"], ["validate", "pytorch-cuda"], ["render", "pytorch-cuda"]):
                cases[f"{args.against}: dlenv {' '.join(words)}"] = ([*dlenv, *words], env, old)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        try:
            for _ in range(args.rounds):
                fresh.write_text(f"{builtin}\n# {time.time_ns()}\n")  # a new memo key each round
                for name, (cmd, case_env, cwd) in cases.items():
                    samples[name].append(run_once(cmd, case_env, cwd))
        finally:
            if old is not None:
                remove = ["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)]
                subprocess.run(remove, check=False)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    hpccm_s = medians["hpccm comparable recipe"]
    print(f"{'command':44} {'median s':>9} {'x hpccm':>8}")
    for name, seconds in medians.items():
        print(f"{name:44} {seconds:9.3f} {seconds / hpccm_s:8.2f}")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    result = {"rounds": args.rounds, "against": args.against, "median_seconds": medians, "samples": samples}
    (out / "cli.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
