"""Shared fixtures. Unit tests never touch Docker; integration tests (marker `docker`) need it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent

os.environ.setdefault("COLUMNS", "200")  # stable rich output in CliRunner
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
# Tests patch the matrix and the registry in-process: their renders must never be remembered
# under the real files' key. test_answermemo.py turns the memo on, in a temporary folder.
os.environ["DLENV_NO_CACHE"] = "1"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def write_profile(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "profile.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
