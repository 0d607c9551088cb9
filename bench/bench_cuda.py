"""CUDA image benchmark on the real engine: dlenv against uv's Docker guide, side by side.

For each Debian CUDA profile (the frameworks' CUDA wheels from PyPI on debian:bookworm-slim),
in one run:

* cold build: each side from its own fresh copy of the base (nothing in the layer cache) and,
  for the uv-guide side, an empty uv cache mount;
* warm rebuild after one extra package is added to the requirements: dlenv's extras layer sits
  on top of the framework layer; the uv-guide image installs everything in one step, from its
  (now full) BuildKit cache mount;
* image size, compressed size (gzip of `docker save`, what a registry stores and a pull moves),
  and what the readiness check finds: CUDA majors, cuDNN versions, duplicate libraries,
  bytes of nvidia-* wheels.

The uv-guide side is what docs.astral.sh/uv/guides/integration/docker/ recommends: one venv,
`uv pip install` with `--mount=type=cache,target=/root/.cache/uv`, `UV_LINK_MODE=copy`,
`UV_COMPILE_BYTECODE=1`. BuildKit comes from Debian's docker CLI (20.10, `DOCKER_BUILDKIT=1`),
as the Docker SDK cannot drive BuildKit (docker/docker-py#2230). uv's image (ghcr.io) cannot be
pulled here, so both sides get this host's uv binary. The host CA goes in through a bind mount.
Writes bench/results/cuda.json.

    .venv/bin/python bench/bench_cuda.py [--profile pytorch-cuda-debian ...] [--no-compressed]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import docker
from bench_build import HOST_CA, REPO, Bench, DiskPeak, timed  # run as a script: bench/ is on the path

from builder.inputs.installer import uv_for_engine
from builder.profile.load import load_profile
from builder.resolve.decide import resolve
from builder.spec import BuildSpec

PROFILES = ["pytorch-cuda-debian", "tf-jax-cuda-debian", "workstation-cuda-debian"]
DOCKER_CLI = "/usr/bin/docker"  # Debian's docker.io: BuildKit through DOCKER_BUILDKIT=1
PYTORCH_RUNTIME_GB = 6.2  # pytorch/pytorch:2.x-cuda12.x-cudnn9-runtime, compressed (Docker Hub)

UV_GUIDE = """FROM {base}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PYTHONUNBUFFERED=1 \\
    UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \\
 && rm -rf /var/lib/apt/lists/*
COPY uv /usr/local/bin/uv
RUN uv venv /opt/venv
RUN --mount=type=cache,id={cache_id},target=/root/.cache/uv \\
    --mount=type=bind,source=ca.pem,target=/etc/bench-ca.pem \\
    SSL_CERT_FILE=/etc/bench-ca.pem uv pip install --python /opt/venv/bin/python {reqs}
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH {env}
COPY dlenv/smoke/ /opt/dlenv/smoke/
WORKDIR /workspace
CMD ["bash"]
"""


class CudaBench(Bench):
    """bench_build's Bench (fresh bases, dlenv's pipeline, cleanup), with a uv-guide baseline."""

    def __init__(self, client: docker.DockerClient, profile: str, work: Path) -> None:
        super().__init__(client, profile, None, work)
        self.cache_id = f"bench-uv-{uuid.uuid4().hex[:12]}"

    def uv_guide(self, packages: list[str], tag: str) -> float:
        spec = self.spec("baseline", packages, 1000)
        env = " ".join(f"{k}={v}" for k, v in _image_env(spec).items())
        dockerfile = UV_GUIDE.format(
            base=spec.base_image,
            cache_id=self.cache_id,
            reqs=" ".join(f"'{r}'" for r in [*spec.framework_requirements(), *spec.packages]),
            env=env,
        )
        uv = uv_for_engine(self.engine.info())
        if uv is None:
            raise SystemExit("bench_cuda needs this host's uv binary to run in the engine's images")
        context = self.work / f"uv-guide-{uuid.uuid4().hex[:8]}"
        shutil.copytree(REPO / "dockerfiles" / "dlenv", context / "dlenv")
        shutil.copy(uv, context / "uv")
        shutil.copy(HOST_CA, context / "ca.pem")
        (context / "Dockerfile").write_text(dockerfile)
        self.tags.append(tag)
        command = [DOCKER_CLI, "build", "--progress", "plain", "-t", tag, str(context)]

        def build() -> None:
            result = subprocess.run(
                command, env={**os.environ, "DOCKER_BUILDKIT": "1"}, capture_output=True, text=True
            )
            if result.returncode != 0:
                raise SystemExit(f"the uv-guide build failed:\n{result.stderr[-3000:]}")

        return timed(build)

    def drop_uv_cache(self) -> None:
        """Remove the BuildKit cache mount this run filled (other build cache stays)."""
        subprocess.run(
            [DOCKER_CLI, "builder", "prune", "--force", "--filter", "type=exec.cachemount"],
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
            capture_output=True,
        )


def _image_env(spec: BuildSpec) -> dict[str, str]:
    """What dlenv's image sets that the frameworks need (KERAS_BACKEND, library fixes): fair play."""
    env = {k: v for k, v in spec.env if not k.startswith("NVIDIA_")}
    if spec.library_path:
        env["LD_LIBRARY_PATH"] = ":".join(spec.library_path)
    return env


def compressed_size(client: docker.DockerClient, tag: str) -> int:
    """Bytes of the image's `docker save` stream gzipped (level 6, as registries store layers)."""
    counter = _Counter()
    with gzip.GzipFile(fileobj=counter, mode="wb", compresslevel=6) as out:
        for chunk in client.images.get(tag).save(named=False, chunk_size=8 << 20):
            out.write(chunk)
    return counter.size


class _Counter:
    """A write-only file that only counts."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def readiness(client: docker.DockerClient, tag: str) -> dict[str, Any]:
    """The readiness check's image line: what is installed, twice or once."""
    out = client.containers.run(
        tag,
        ["python", "/opt/dlenv/smoke/readiness.py", "--framework", ""],
        remove=True,
        stdout=True,
        stderr=False,
    )
    lines = [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
    image: dict[str, Any] = next((x for x in lines if x.get("framework") == "image"), {})
    return {
        "ok": image.get("ok"),
        "cuda_majors": sorted(image.get("cuda_majors") or {}),
        "cudnn_versions": image.get("cudnn_versions"),
        "duplicate_sonames": {
            soname: [owner for copy in copies for owner in copy["owners"]]
            for soname, copies in (image.get("duplicate_sonames") or {}).items()
        },
        "file_conflicts": (image.get("file_conflicts") or {}).get("count"),
        "nvidia_wheel_bytes": image.get("nvidia_total_bytes"),
    }


def bench_profile(client: docker.DockerClient, profile: str, root: str, compressed: bool) -> dict[str, Any]:
    one, two = ["six"], ["six", "idna"]
    spec = resolve(load_profile(profile)[0])
    r: dict[str, Any] = {
        "profile": profile,
        "frameworks": {f.name: f.version for f in spec.frameworks},
        "cuda": spec.toolkit,
    }
    with tempfile.TemporaryDirectory() as tmp:
        bench = CudaBench(client, profile, Path(tmp))
        try:
            with DiskPeak(root) as ours_disk:
                ours = bench.dlenv(one, 1000, "bench/cuda-dlenv:cold")
            with DiskPeak(root) as theirs_disk:
                theirs = bench.uv_guide(one, "bench/cuda-uv:cold")
            r["cold_s"] = {"dlenv": ours, "uv_guide": theirs}
            r["peak_disk_bytes"] = {"dlenv": ours_disk.peak, "uv_guide": theirs_disk.peak}
            r["warm_extras_s"] = {
                "dlenv": bench.dlenv(two, 1000, "bench/cuda-dlenv:extras"),
                "uv_guide": bench.uv_guide(two, "bench/cuda-uv:extras"),
            }
            r["size_bytes"] = {
                "dlenv": bench.size("bench/cuda-dlenv:cold"),
                "uv_guide": bench.size("bench/cuda-uv:cold"),
            }
            if compressed:
                r["compressed_bytes"] = {
                    "dlenv": compressed_size(client, "bench/cuda-dlenv:cold"),
                    "uv_guide": compressed_size(client, "bench/cuda-uv:cold"),
                }
            r["installed"] = {
                "dlenv": readiness(client, "bench/cuda-dlenv:cold"),
                "uv_guide": readiness(client, "bench/cuda-uv:cold"),
            }
        finally:
            bench.cleanup()
            bench.drop_uv_cache()
    keys = [
        k for k in ("cold_s", "warm_extras_s", "size_bytes", "compressed_bytes", "peak_disk_bytes") if k in r
    ]
    r["ratios_uv_guide_over_dlenv"] = {k: r[k]["uv_guide"] / r[k]["dlenv"] for k in keys}
    return r


def show(r: dict[str, Any]) -> None:
    print(f"\n{r['profile']}")
    print(f"  {'':24} {'dlenv':>10} {'uv guide':>10} {'uv/dlenv':>9}")
    for key, unit in (
        ("cold_s", 1),
        ("warm_extras_s", 1),
        ("size_bytes", 1e9),
        ("compressed_bytes", 1e9),
        ("peak_disk_bytes", 1e9),
    ):
        if key not in r:
            continue
        label = key.replace("_bytes", " (GB)")
        ours, theirs = r[key]["dlenv"] / unit, r[key]["uv_guide"] / unit
        print(f"  {label:24} {ours:10.2f} {theirs:10.2f} {r['ratios_uv_guide_over_dlenv'][key]:8.2f}x")
    for side, found in r["installed"].items():
        print(
            f"  {side}: CUDA majors {found['cuda_majors']}, cuDNN {found['cudnn_versions']}, "
            f"twice: {sorted(found['duplicate_sonames']) or 'nothing'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", action="append", help=f"default: {', '.join(PROFILES)}")
    parser.add_argument("--no-compressed", action="store_true", help="skip the gzip sizes (minutes each)")
    args = parser.parse_args()
    if not Path(DOCKER_CLI).is_file():
        raise SystemExit(f"{DOCKER_CLI} (Debian's docker.io CLI, for BuildKit) is missing")
    client = docker.from_env(timeout=3600)
    root = str(client.info()["DockerRootDir"])
    started = time.time()
    results = [bench_profile(client, p, root, not args.no_compressed) for p in args.profile or PROFILES]
    for r in results:
        show(r)
    print(f"\npytorch/pytorch:*-runtime, for scale: about {PYTORCH_RUNTIME_GB} GB compressed (Docker Hub)")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d", time.gmtime(started)),
        "profiles": results,
        "pytorch_runtime_compressed_gb": PYTORCH_RUNTIME_GB,
    }
    (out / "cuda.json").write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
