"""The answer memo: a hit gives the same bytes as a fresh render or validate, any input change is a miss."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder import paths
from builder.render import memo as answermemo

REPO = Path(__file__).resolve().parents[2]


def _render(
    ref: str, cache: Path, *, enabled: bool = True, command: str = "render"
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "DLENV_CACHE_DIR": str(cache), "HOME": str(cache)}
    if not enabled:
        env["DLENV_NO_CACHE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "builder", command, ref], cwd=REPO, env=env, capture_output=True, text=True
    )


def test_a_hit_is_byte_identical_to_a_fresh_render_and_skips_the_resolver(tmp_path: Path) -> None:
    fresh = _render("mxnet-cpu", tmp_path, enabled=False)  # mxnet warns: warnings are kept too
    first = _render("mxnet-cpu", tmp_path)
    assert list((tmp_path / "answers").glob("*.json")), "the first render is remembered"
    start = time.perf_counter()
    second = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "builder", "render", "mxnet-cpu"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "DLENV_CACHE_DIR": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert time.perf_counter() - start < 5
    assert fresh.stdout == first.stdout == second.stdout and fresh.returncode == second.returncode == 0
    assert "warning:" in fresh.stderr and "warning:" in second.stderr
    imported = {line.split("|")[-1].strip() for line in second.stderr.splitlines() if "import time:" in line}
    assert not imported & {"typer", "pydantic", "jinja2", "builder.resolve"}, "a hit loads none of them"


def test_a_changed_profile_is_a_miss(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text('name: p\naccelerator: cpu\nframeworks: {pytorch: "2.13"}\n')
    one = _render(str(profile), tmp_path / "c")
    profile.write_text('name: p\naccelerator: cpu\nframeworks: {pytorch: "2.13"}\napt: [git]\n')
    two = _render(str(profile), tmp_path / "c")
    assert "git" not in one.stdout and "      git \\" in two.stdout


def test_errors_are_never_remembered(tmp_path: Path) -> None:
    run = _render("no-such-profile", tmp_path)
    assert run.returncode == 2 and not list(tmp_path.rglob("*.json"))


def test_key_covers_code_data_and_templates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("name: p\n")
    before = answermemo.key("render", profile)
    assert answermemo.key("validate", profile) != before, "each command has its own answers"
    answermemo.code_digest.cache_clear()
    monkeypatch.setattr(paths, "templates_dir", lambda: tmp_path)  # other templates
    assert answermemo.key("render", profile) != before
    answermemo.code_digest.cache_clear()


def test_no_cache_and_unwritable_folders_are_misses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DLENV_NO_CACHE", "1")
    assert answermemo.cache_dir() is None and answermemo.lookup("render", "pytorch-cpu") is None
    monkeypatch.delenv("DLENV_NO_CACHE")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DLENV_CACHE_DIR", str(blocker))
    answermemo.store("render", "pytorch-cpu", "x", [])  # cannot be written: skipped, no error
    assert answermemo.lookup("render", "pytorch-cpu") is None


def test_validate_is_remembered_too_and_only_in_its_plain_form(tmp_path: Path) -> None:
    fresh = _render("workstation-cuda", tmp_path, enabled=False, command="validate")
    first = _render("workstation-cuda", tmp_path, command="validate")
    second = _render("workstation-cuda", tmp_path, command="validate")
    assert fresh.returncode == first.returncode == second.returncode == 0
    assert fresh.stdout == first.stdout == second.stdout and ": ok: cuda" in second.stdout
    assert fresh.stderr == second.stderr  # the warnings, word for word
    assert len(list((tmp_path / "answers").glob("*.json"))) == 1
    as_json = subprocess.run(
        [sys.executable, "-m", "builder", "validate", "workstation-cuda", "--json"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "DLENV_CACHE_DIR": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert as_json.stdout.lstrip().startswith("{"), "flags are never answered from the memo"
    assert answermemo.lookup("smoke", "workstation-cuda") is None, "only pure commands are answered"


def test_a_cache_folder_that_cannot_be_used_never_fails_a_render(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    run = _render("pytorch-cpu", blocker)  # the memo and Jinja's compiled templates both live there
    assert run.returncode == 0 and run.stdout.startswith("# Generated by dlenv"), run.stderr[-2000:]
    assert "Traceback" not in run.stderr


def test_compiled_templates_are_kept_and_give_the_same_bytes(tmp_path: Path) -> None:
    fresh = _render("pytorch-cpu", tmp_path / "a", enabled=False)
    first = _render("jax-cpu", tmp_path / "b")  # fills the template cache
    second = _render("pytorch-cpu", tmp_path / "b")  # a new profile: rendered, templates loaded
    assert list((tmp_path / "b" / "jinja").iterdir()), "Jinja's compiled templates were stored"
    assert first.returncode == second.returncode == 0 and second.stdout == fresh.stdout
