"""A CUDA image on plain Debian is the nvidia/cuda one with another FROM: what CI proves on
debian:bookworm-slim (no registry here to pull nvidia/cuda from) carries over to the default base."""

from __future__ import annotations

import difflib
import re

import pytest
import yaml

from builder.profile.load import load_profile, parse_profile
from builder.render import dockerfile as render
from builder.resolve.decide import resolve

DEBIAN_CUDA_PROFILES = ["pytorch-cuda-debian", "tf-jax-cuda-debian", "workstation-cuda-debian"]

# What may differ, and why: the base, the toolkit variables NVIDIA's base images set themselves,
# the OS's Python and what is derived from the OS (labels, the header, the spec digest).
ALLOWED = [
    re.compile(r"^FROM \S+ AS system$"),
    re.compile(r"^#"),  # comments: the header and the base's explanation
    re.compile(r'^ENV NVIDIA_REQUIRE_CUDA="cuda>=\d+\.\d+"$'),
    re.compile(r'^\s+org\.opencontainers\.image\.base\.name="[^"]+" \\$'),
    re.compile(r'^\s+io\.dlenv\.spec-digest="[0-9a-f]{64}" \\$'),
    re.compile(r'^\s+io\.dlenv\.python="3\.\d+" \\$'),
]


def _on_default_os(name: str) -> str:
    """The same built-in profile without its `os`: dlenv's default base for CUDA (nvidia/cuda)."""
    data = yaml.safe_load(load_profile(name)[1].read_text())
    del data["os"]
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("name", DEBIAN_CUDA_PROFILES)
def test_debian_and_nvidia_base_differ_only_in_the_base(name: str) -> None:
    debian = resolve(load_profile(name)[0])
    nvidia = resolve(parse_profile(_on_default_os(name), f"{name}.yaml"))
    assert debian.base_image == "debian:bookworm-slim"
    assert nvidia.base_image.startswith("nvidia/cuda:") and nvidia.base_image.split("-")[-2] == "base"
    # Same wheels: the frameworks, their builds and the CUDA they carry.
    assert [(f.name, f.variant, f.requirements, f.cuda_libraries) for f in debian.frameworks] == [
        (f.name, f.variant, f.requirements, f.cuda_libraries) for f in nvidia.frameworks
    ]

    # The Python of each OS differs; with it every path that names it. Normalise, then compare.
    def lines(spec_python: str, text: str) -> list[str]:
        return text.replace(f"python{spec_python}", "pythonX").splitlines()

    a = lines(debian.python, render.render_dockerfile(debian))
    b = lines(nvidia.python, render.render_dockerfile(nvidia))
    changed = [line[2:] for line in difflib.ndiff(a, b) if line.startswith(("- ", "+ ")) and line[2:].strip()]
    unexplained = [line for line in changed if not any(p.match(line) for p in ALLOWED)]
    assert not unexplained, "\n".join(unexplained)
    assert any(line.startswith("FROM debian:bookworm-slim") for line in changed)
    assert f'ENV NVIDIA_REQUIRE_CUDA="cuda>={debian.toolkit}"' in a
