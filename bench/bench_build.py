"""Build benchmark on the real engine, side by side in one run:

* cold build (--no-cache) of dlenv's Dockerfile vs a hand-written naive Dockerfile with the
  same content (same base, same wheels, same extras, same smoke scripts),
* warm rebuild after a one-package change of the extras (dlenv vs naive),
* image size (dlenv vs naive),
* smoke-test time.
Writes bench/results/build.json.   .venv/bin/python bench/bench_build.py [--profile pytorch-cpu]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from builder import engine
from builder.context import make_context
from builder.prepare import BuildOptions, prepare_build
from builder.profile import load_profile
from builder.resolve import resolve
from builder.smoke import run_smoke

REPO = Path(__file__).resolve().parent.parent

# What a person typically writes by hand: one stage, recommends and apt lists kept, pip's
# cache kept, the build inputs (pip.conf, CA, wheelhouse) copied in, extras in the same RUN.
NAIVE = """FROM {base}
RUN apt-get update && apt-get install -y python3 python3-venv python3-pip
COPY dlenv/build/ /opt/dlenv-build/
ENV PIP_CONFIG_FILE=/opt/dlenv-build/pip.conf
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install {reqs}
ENV PATH=/opt/venv/bin:$PATH
COPY dlenv/smoke/ /opt/dlenv/smoke/
"""


def build(client: Any, files: dict[str, bytes], tag: str, no_cache: bool) -> float:
    start = time.perf_counter()
    context = make_context(files, executables=frozenset({"dlenv/smoke/dlenv-smoke"}))
    for _ in engine.build(client, context, tags=[tag], base_image="", no_cache=no_cache):
        pass
    return time.perf_counter() - start


def variants(name: str, extras: list[str]) -> tuple[dict[str, bytes], dict[str, bytes], Any]:
    profile, path = load_profile(name)
    profile = profile.model_copy(update={"packages": tuple(extras)})
    spec = resolve(profile)
    prepared = prepare_build(spec, BuildOptions(pip_from_host=True), path.parent)
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(prepared.context)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    naive = dict(files)
    naive["dlenv/build/pip.conf"] = files["dlenv/build/pip.conf"].replace(b"no-cache-dir = true\n", b"")
    reqs = " ".join(prepared.spec.framework_requirements() + list(prepared.spec.packages))
    naive["Dockerfile"] = NAIVE.format(base=prepared.spec.base_image, reqs=reqs).encode()
    return files, naive, prepared.spec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="pytorch-cpu")
    args = parser.parse_args()
    client = engine.connect(timeout=3600)
    ours1, naive1, spec = variants(args.profile, ["six"])
    ours2, naive2, _ = variants(args.profile, ["six", "idna"])
    r: dict[str, Any] = {"profile": args.profile}
    r["cold_s"] = {
        "dlenv": build(client, ours1, "bench/dlenv:1", True),
        "naive": build(client, naive1, "bench/naive:1", True),
    }
    r["warm_after_one_package_s"] = {
        "dlenv": build(client, ours2, "bench/dlenv:2", False),
        "naive": build(client, naive2, "bench/naive:2", False),
    }
    r["size_bytes"] = {
        "dlenv": engine.image_size(client, "bench/dlenv:2"),
        "naive": engine.image_size(client, "bench/naive:2"),
    }
    start = time.perf_counter()
    report = run_smoke(
        "bench/dlenv:2", accelerator=spec.accelerator, runtime=spec.runtime.model_dump(), timeout=900
    )
    r["smoke_s"] = time.perf_counter() - start
    r["smoke_ok"] = report.ok
    r["ratios"] = {
        "cold naive/dlenv": r["cold_s"]["naive"] / r["cold_s"]["dlenv"],
        "warm naive/dlenv": r["warm_after_one_package_s"]["naive"] / r["warm_after_one_package_s"]["dlenv"],
        "size naive/dlenv": r["size_bytes"]["naive"] / r["size_bytes"]["dlenv"],
    }
    for tag in ("bench/dlenv:1", "bench/dlenv:2", "bench/naive:1", "bench/naive:2"):
        engine.remove_image(client, tag)
    print(json.dumps(r, indent=2))
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "build.json").write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
