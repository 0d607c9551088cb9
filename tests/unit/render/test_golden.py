"""Golden files of the Dockerfiles `dlenv build` really sends: served inputs with uv, locked
builds (served and staged). The checked-in dockerfiles/ are the goldens of the plain,
standalone form; these cover the other layouts. DLENV_UPDATE_GOLDEN=1 rewrites them."""

from __future__ import annotations

import os

import pytest

from builder.profile.load import parse_profile
from builder.render.dockerfile import LockedBuild, render_dockerfile
from builder.render.layout import Layout
from builder.resolve.decide import resolve
from tests.paths import FIXTURES

GOLDEN = FIXTURES / "golden"
PROFILE = """name: golden
accelerator: cpu
os: debian12
frameworks: {pytorch: "2.13.0"}
packages: ["six>=1.16"]
"""
# Bundle names stand for the served inputs' digests (pip.conf, uv binary): fixed here, so the
# files change only when the templates or the spec do.
SERVED_UV = Layout("served", "uv", bundles=(("frameworks", "frameworks-0f.tar"), ("extras", "extras-1e.tar")))
STAGED_PIP = Layout("staged", "pip")
LOCKED = LockedBuild(
    base="debian:bookworm-slim@sha256:" + "a" * 64,
    base_digest="sha256:" + "a" * 64,
    lock_digest="sha256:" + "b" * 64,
    source_date_epoch=1795821159,
)
CASES = {
    "served-uv.Dockerfile": (SERVED_UV, None),
    "served-uv-locked.Dockerfile": (SERVED_UV, LOCKED),
    "staged-pip-locked.Dockerfile": (STAGED_PIP, LOCKED),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layout_golden(name: str) -> None:
    layout, locked = CASES[name]
    text = render_dockerfile(resolve(parse_profile(PROFILE)), locked, layout)
    path = GOLDEN / name
    if os.environ.get("DLENV_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.is_file(), f"{path} is missing: run with DLENV_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(), f"{name} changed: review `git diff` after DLENV_UPDATE_GOLDEN=1"
