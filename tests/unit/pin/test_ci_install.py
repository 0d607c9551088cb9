"""Where a generated workflow installs dlenv from: only sources pinned by commit or sha256, never
the bare name on PyPI (which someone else could claim)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builder.cli.app import app
from builder.errors import UsageError
from builder.pin import ci_install
from builder.pin.ci_install import from_direct_url, install_source

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SHA = "ab" * 32


@pytest.mark.parametrize(
    ("source", "requirement", "kind"),
    [
        (
            f"git+https://git.example.com/team/dlenv@{COMMIT}",
            f"dlenv @ git+https://git.example.com/team/dlenv@{COMMIT}",
            "git",
        ),
        (
            f"git+ssh://git@git.example.com/team/dlenv.git@{COMMIT}",
            f"dlenv @ git+ssh://git@git.example.com/team/dlenv.git@{COMMIT}",
            "git",
        ),
        (
            f"https://files.example.com/dlenv-0.2.0-py3-none-any.whl#sha256={SHA}",
            f"dlenv @ https://files.example.com/dlenv-0.2.0-py3-none-any.whl#sha256={SHA}",
            "url",
        ),
    ],
)
def test_pinned_sources_are_taken(source: str, requirement: str, kind: str, tmp_path: Path) -> None:
    install = install_source(source, tmp_path)
    assert install.requirement == requirement and install.kind == kind
    assert install.command() == f'python -m pip install "{requirement}"'
    assert install.needs_git == (kind == "git")


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("git+https://git.example.com/team/dlenv@main", "a branch or tag can move"),
        ("git+https://git.example.com/team/dlenv", "full commit SHA"),
        ("git+https://git.example.com/team/dlenv@0123456", "full commit SHA"),
        (f"git+https://me:secret@git.example.com/team/dlenv@{COMMIT}", "holds a password"),
        ("https://files.example.com/dlenv-0.2.0-py3-none-any.whl", "with its sha256"),
        (f"http://files.example.com/dlenv-0.2.0-py3-none-any.whl#sha256={SHA}", "https URL"),
        (f"https://files.example.com/other-0.2.0-py3-none-any.whl#sha256={SHA}", "dlenv wheel"),
        ("dlenv==0.2.0", "no file"),
        ("dlenv", "no file"),
    ],
)
def test_unpinned_or_unsafe_sources_are_refused(source: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        install_source(source, tmp_path)
    assert says in info.value.message and info.value.exit_code == 2


def test_a_wheel_in_the_repository_is_installed_with_its_sha256(tmp_path: Path) -> None:
    wheel = tmp_path / "tools" / "dlenv-0.2.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"not really a wheel")
    digest = hashlib.sha256(b"not really a wheel").hexdigest()
    install = install_source(str(wheel), tmp_path)
    assert (
        install.requirement == f"dlenv @ file://${{PWD}}/tools/dlenv-0.2.0-py3-none-any.whl#sha256={digest}"
    )
    outside = tmp_path.parent / f"{tmp_path.name}-out" / "dlenv-0.2.0-py3-none-any.whl"
    outside.parent.mkdir()
    outside.write_bytes(b"x")
    with pytest.raises(UsageError, match="inside"):
        install_source(str(outside), tmp_path)
    other = tmp_path / "tools" / "evil-0.2.0-py3-none-any.whl"
    other.write_bytes(b"x")
    with pytest.raises(UsageError, match="must be a dlenv wheel"):
        install_source(str(other), tmp_path)


def test_pip_refuses_a_wheel_whose_bytes_differ_from_the_pinned_sha256(tmp_path: Path) -> None:
    """What the file and URL forms rely on: pip checks the #sha256= of a direct reference."""
    wheel = tmp_path / "dlenv-0.0.1-py3-none-any.whl"
    wheel.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip: pip fails on the hash first
    url = f"dlenv @ file://{wheel}#sha256={'0' * 64}"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--dry-run", url],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "Expected sha256 " + "0" * 64 in result.stdout + result.stderr


def test_the_default_is_where_this_dlenv_was_installed_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ci_install, "installed_from", lambda: f"git+https://git.example.com/dlenv@{COMMIT}")
    assert install_source(None, tmp_path).requirement == f"dlenv @ git+https://git.example.com/dlenv@{COMMIT}"
    monkeypatch.setattr(ci_install, "installed_from", lambda: "git+https://git.example.com/dlenv@main")
    with pytest.raises(UsageError, match="where this dlenv was installed from"):
        install_source(None, tmp_path)


def test_without_a_pinned_source_dlenv_ci_asks_for_one(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ci_install, "installed_from", lambda: None)
    result = runner.invoke(app, ["ci", "github", "pytorch-cpu"])
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and "Pass --install with git+https://HOST/OWNER/dlenv@COMMIT" in message
    assert "not on PyPI" in message and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("record", "source"),
    [
        (
            {"url": "https://git.example.com/dlenv", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
            f"git+https://git.example.com/dlenv@{COMMIT}",
        ),
        (
            {
                "url": "https://f.example.com/dlenv-0.2.0-py3-none-any.whl",
                "archive_info": {"hashes": {"sha256": SHA}},
            },
            f"https://f.example.com/dlenv-0.2.0-py3-none-any.whl#sha256={SHA}",
        ),
        (
            {
                "url": "https://f.example.com/dlenv-0.2.0-py3-none-any.whl",
                "archive_info": {"hash": f"sha256={SHA}"},
            },
            f"https://f.example.com/dlenv-0.2.0-py3-none-any.whl#sha256={SHA}",
        ),
        ({"url": "file:///work/dlenv", "dir_info": {"editable": True}}, None),  # a local checkout
        ({"url": "file:///tmp/dlenv-0.2.0-py3-none-any.whl", "archive_info": {}}, None),
        ({"url": "https://f.example.com/dlenv-0.2.0.tar.gz", "archive_info": {}}, None),  # no hash
        ("not a record", None),
    ],
)
def test_pep_610_records_that_can_be_pinned(record: object, source: str | None) -> None:
    assert from_direct_url(record) == source
