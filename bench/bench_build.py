"""Build benchmark on the real engine: dlenv against a careful single-stage Dockerfile.

Side by side in one run, same base image, same wheels, same extras, same smoke scripts:

* cold build (each side from its own fresh copy of the base image: nothing cached),
* warm rebuild after the extras change (one package added),
* the image for another UID (what a dev container for a colleague costs),
* image size, and the peak disk the engine used during each cold build.

The baseline is what a careful person writes by hand: one stage, `--no-install-recommends`,
apt lists removed, pip without its cache, the user created first so the venv is theirs, and
frameworks + extras in one pip call. Both get PyTorch from a local HTTP find-links page (this
machine cannot reach download.pytorch.org; the page stands in for it) and PyPI through the
host's CA bundle. Writes bench/results/build.json.

    .venv/bin/python bench/bench_build.py [--profile pytorch-cpu] [--wheelhouse /opt/wheels]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import json
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import docker
import yaml

from builder import events, pipeline
from builder.engine.docker_engine import DockerEngine, engine_address
from builder.engine.protocol import BuiltImage
from builder.engine.resources import Resources
from builder.inputs.context import make_context
from builder.inputs.prepare import BuildOptions
from builder.profile.load import load_profile, parse_profile
from builder.render.context_files import smoke_files
from builder.resolve.decide import resolve
from builder.spec import BuildSpec

REPO = Path(__file__).resolve().parent.parent
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")

BASELINE = """FROM {base}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \\
 && apt-get install -y --no-install-recommends {apt} \\
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid {uid} app \\
 && useradd --uid {uid} --gid {uid} --create-home --shell /bin/bash app \\
 && install -d -o {uid} -g {uid} /opt/venv /workspace
COPY ca.pem /etc/pip-ca.pem
USER {uid}:{uid}
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install --cert /etc/pip-ca.pem {links} {reqs}
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
COPY dlenv/smoke/ /opt/dlenv/smoke/
WORKDIR /workspace
CMD ["bash"]
"""


@contextmanager
def wheel_page(directory: Path | None, address: str) -> Iterator[str | None]:
    """Serve a wheelhouse as a find-links page on the engine's bridge (builds can reach it)."""
    if directory is None:
        yield None
        return

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # base signature
            pass

    server = http.server.ThreadingHTTPServer((address, 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{address}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def bridge_gateway(client: docker.DockerClient) -> str:
    """The host's address on the engine's default bridge (what RUN steps can reach)."""
    import ipaddress

    config = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    if config.get("Gateway"):
        return str(config["Gateway"])
    return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))  # the engine's default


class DiskPeak:
    """The most disk the engine's data root gained while a build ran (sampled 5x a second)."""

    def __init__(self, root: str) -> None:
        self.root, self.peak, self._stop = root, 0, threading.Event()

    def __enter__(self) -> DiskPeak:
        self._start = shutil.disk_usage(self.root).used
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, shutil.disk_usage(self.root).used - self._start)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


class Bench:
    def __init__(self, client: docker.DockerClient, profile: str, links: str | None, work: Path) -> None:
        self.client, self.links, self.work = client, links, work
        self.engine = DockerEngine(client)
        self.verbose = False
        self.profile = load_profile(profile)[0].model_dump(mode="json", exclude_none=True)
        self.tags: list[str] = []
        # Each side starts from its own copy of the base image (same content, a label apart),
        # so each cold build is really cold and neither side's layers can serve the other.
        self.bases = {side: self.fresh_base(side) for side in ("dlenv", "baseline")}

    def fresh_base(self, side: str) -> str:
        base = resolve(parse_profile(yaml.safe_dump(self.profile))).base_image
        tag = f"bench/base-{side}:{uuid.uuid4().hex[:12]}"
        dockerfile = f"FROM {base}\nLABEL io.dlenv.bench-nonce={uuid.uuid4().hex}\n".encode()
        self.client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
        self.tags.append(tag)
        return tag

    def spec(self, side: str, packages: list[str], uid: int) -> BuildSpec:
        user = {"name": "app", "uid": uid, "gid": uid}
        data = {**self.profile, "packages": packages, "user": user, "base_image": self.bases[side]}
        if self.links:
            data["pip"] = {"find_links": [self.links], "vendor_indexes": False}
        return resolve(parse_profile(yaml.safe_dump(data)))

    def dlenv(self, packages: list[str], uid: int, tag: str) -> float:
        spec = self.spec("dlenv", packages, uid)
        options = BuildOptions(ca_bundle=HOST_CA if HOST_CA.is_file() else None)
        self.tags.append(tag)
        with Resources().cleaned_up() as resources:
            return timed(
                lambda: pipeline.build_image(
                    self.engine,
                    spec,
                    options,
                    profile_dir=self.work,
                    tags=[tag],
                    resources=resources,
                    emit=self.show,
                )
            )

    def show(self, event: events.Event) -> None:
        """--verbose: each step and whether the cache served it, as the build goes."""
        if self.verbose and isinstance(event, events.BuildStep):
            print(f"  [{event.step}/{event.total}] {event.text[:90]}", flush=True)
        elif self.verbose and isinstance(event, events.BuildOutput) and "Using cache" in event.text:
            print("      (cached)", flush=True)

    def baseline(self, packages: list[str], uid: int, tag: str) -> float:
        spec = self.spec("baseline", packages, uid)
        reqs = [*spec.framework_requirements(), *spec.packages]
        vendor = [f"--extra-index-url {u}" for u in spec.vendor_indexes()]
        dockerfile = BASELINE.format(
            base=spec.base_image,
            apt=" ".join([*spec.system_apt, *spec.apt]),
            uid=uid,
            links=" ".join(
                [f"--find-links {self.links} --trusted-host {urlsplit(self.links).hostname}"]
                if self.links
                else vendor
            ),
            reqs=" ".join(f"'{r}'" for r in reqs),
        )
        files = {"Dockerfile": dockerfile.encode(), "ca.pem": HOST_CA.read_bytes(), **smoke_files()}
        context = make_context(files, executables=frozenset({"dlenv/smoke/dlenv-smoke"}))
        self.tags.append(tag)

        def build() -> None:
            image = ""
            for event in self.engine.build(context):
                if isinstance(event, BuiltImage):
                    image = event.image_id
                elif isinstance(event, events.BuildStep | events.BuildOutput):
                    self.show(event)
            self.engine.tag(image, tag)

        return timed(build)

    def size(self, tag: str) -> int:
        found = self.engine.image(tag)
        return found.size if found else 0

    def cleanup(self) -> None:
        """Remove the bench's tags and every image built on its private bases (its build cache)."""
        bases = {self.client.images.get(tag).id for tag in self.bases.values()}
        parents = {i.id: i.attrs.get("Parent", "") for i in self.client.images.list(all=True)}

        def depth(image: str) -> int:  # generations below a bench base; 0 = not the bench's
            for generation in range(1, 200):
                image = parents.get(image, "")
                if not image:
                    return 0
                if image in bases:
                    return generation
            return 0

        for tag in self.tags:
            self.engine.remove_image(tag, force=True)
        for image in sorted(parents, key=depth, reverse=True):
            if depth(image):
                self.engine.remove_image(image, force=True)
        for base in bases:
            self.engine.remove_image(base, force=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="pytorch-cpu")
    parser.add_argument("--wheelhouse", default="/opt/wheels", help="'none' to use the vendor indexes")
    parser.add_argument("--verbose", action="store_true", help="show each build step")
    args = parser.parse_args()
    client = docker.from_env(timeout=3600)
    root = str(client.info()["DockerRootDir"])
    gateway = bridge_gateway(client)
    wheels = None if args.wheelhouse == "none" else Path(args.wheelhouse)
    one, two = ["six"], ["six", "idna"]
    r: dict[str, Any] = {"profile": args.profile, "engine": engine_address()}
    with tempfile.TemporaryDirectory() as tmp, wheel_page(wheels, gateway) as links:
        bench = Bench(client, args.profile, links, Path(tmp))
        bench.verbose = args.verbose
        try:
            with DiskPeak(root) as ours_disk:
                ours_cold = bench.dlenv(one, 1000, "bench/dlenv:cold")
            with DiskPeak(root) as base_disk:
                base_cold = bench.baseline(one, 1000, "bench/baseline:cold")
            r["cold_s"] = {"dlenv": ours_cold, "baseline": base_cold}
            r["peak_disk_bytes"] = {"dlenv": ours_disk.peak, "baseline": base_disk.peak}
            r["warm_extras_s"] = {
                "dlenv": bench.dlenv(two, 1000, "bench/dlenv:extras"),
                "baseline": bench.baseline(two, 1000, "bench/baseline:extras"),
            }
            r["other_uid_s"] = {
                "dlenv": bench.dlenv(one, 2000, "bench/dlenv:uid"),
                "baseline": bench.baseline(one, 2000, "bench/baseline:uid"),
            }
            r["size_bytes"] = {
                "dlenv": bench.size("bench/dlenv:cold"),
                "baseline": bench.size("bench/baseline:cold"),
            }
            with Resources().cleaned_up() as resources:
                spec = bench.spec("dlenv", one, 1000)
                start = time.perf_counter()
                report = pipeline.smoke(
                    bench.engine, pipeline.smoke_target_for("bench/dlenv:cold", spec), resources=resources
                )
                r["smoke_s"], r["smoke_ok"] = time.perf_counter() - start, report.ok
        finally:
            bench.cleanup()
    r["ratios_baseline_over_dlenv"] = {
        key: r[key]["baseline"] / r[key]["dlenv"]
        for key in ("cold_s", "warm_extras_s", "other_uid_s", "size_bytes", "peak_disk_bytes")
    }
    print(f"{'':28} {'dlenv':>10} {'baseline':>10} {'baseline/dlenv':>15}")
    for key, unit in (
        ("cold_s", 1),
        ("warm_extras_s", 1),
        ("other_uid_s", 1),
        ("size_bytes", 1e6),
        ("peak_disk_bytes", 1e6),
    ):
        label = key + (" (MB)" if unit != 1 else "")
        ours, theirs = r[key]["dlenv"] / unit, r[key]["baseline"] / unit
        print(f"{label:28} {ours:10.1f} {theirs:10.1f} {r['ratios_baseline_over_dlenv'][key]:14.2f}x")
    print(f"smoke test {r['smoke_s']:.1f} s, ok={r['smoke_ok']}")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "build.json").write_text(json.dumps(r, indent=2) + "\n")


if __name__ == "__main__":
    main()
