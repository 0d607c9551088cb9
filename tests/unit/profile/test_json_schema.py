"""The exported JSON Schema refuses what `dlenv validate` refuses, key by key, so an editor (or
check-jsonschema in a user's CI) flags a bad profile before dlenv runs; it uses only JSON Schema's
own keywords, and `dlenv validate --schema` needs no profile."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from builder import paths
from builder.cli.app import app
from builder.errors import ProfileError
from builder.profile.json_schema import profile_json_schema
from builder.profile.load import parse_profile
from tests.paths import REPO

BASE = "name: x\naccelerator: cpu\nframeworks: {pytorch: null}\n"
# Draft 2020-12's keywords (and the annotations pydantic writes): anything else is a typo or a
# pydantic name that a validator would silently ignore, as `gt`/`le` were.
KEYWORDS = {
    "$schema", "$defs", "$ref", "title", "description", "default", "examples", "type", "enum",
    "const", "properties", "additionalProperties", "propertyNames", "required", "items",
    "minItems", "maxItems", "minProperties", "maxProperties", "minLength", "maxLength", "pattern",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "anyOf", "allOf", "oneOf", "not",
    "if", "then", "else", "uniqueItems", "format",
}  # fmt: skip

CASES = [
    "smoke: {min_tflops: -1}",
    "smoke: {min_tflops: 0}",
    "smoke: {min_peak_fraction: 1.5}",
    "smoke: {min_copy_gbps: '10'}",
    "smoke: {steps: 5}",
    "smoke: {models: []}",
    "packages: ['numpy; rm -rf /']",
    "packages: ['numpy @ https://x/y.whl']",
    "packages: ['numpy; python_version < \"3.12\"']",
    "packages: ['pandas>=2 && id']",
    "packages: ['>=2']",
    "packages: ['-e .']",
    "apt: ['git; rm']",
    "apt: [Git]",
    "env: {'1A': x}",
    "env: {A: 'x$(id)'}",
    'env: {A: "it\'s"}',
    "base_image: 'a/../b'",
    "base_image: 'x y'",
    "pip: {index_url: 'ftp://x'}",
    "pip: {extra_index_urls: ['x']}",
    "pip: {find_links: ['a b']}",
    "cuda: '12.8'",
    "rocm: '6.4'",
    "nvcc: true",
    "gpus: [h100]",
    "user: {uid: 0}",
    "name: X",
]
OK = [
    "",
    "smoke: {min_tflops: 0.5, min_copy_gbps: 10, min_peak_fraction: 1}",
    "packages: ['pandas>=2', 'numpy[a,b] >= 1.0, <2', 'six', 'torch==2.*', 'x~=1.4', 'a.b_c-d']",
    "apt: [git, 'libgl1=1.2+x']",
    "env: {HF_HOME: /data/hf, A_1: 'x=y, z'}",
    "base_image: 'registry:5000/team/debian:bookworm@sha256:abc'",
    "pip: {index_url: 'https://m.example/simple', find_links: [./wheels, 'https://w.example/']}",
    "nvcc: false",
    "gpus: []",
]


def _profile(extra: str) -> str:
    if extra.startswith(("cuda:", "nvcc:", "gpus:", "rocm:", "name:")):
        return BASE.replace("name: x\n", "" if extra.startswith("name:") else "name: x\n") + extra + "\n"
    return BASE + extra + "\n"


def _validate_accepts(text: str) -> bool:
    try:
        parse_profile(text)
    except ProfileError:
        return False
    return True


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = profile_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("extra", CASES)
def test_the_schema_refuses_what_validate_refuses(
    validator: jsonschema.Draft202012Validator, extra: str
) -> None:
    text = _profile(extra)
    assert not _validate_accepts(text), f"dlenv takes {extra!r}: not a case for this test"
    assert list(validator.iter_errors(yaml.safe_load(text))), f"the schema takes {extra!r}"


@pytest.mark.parametrize("extra", OK)
def test_the_schema_takes_what_validate_takes(validator: jsonschema.Draft202012Validator, extra: str) -> None:
    text = _profile(extra)
    assert _validate_accepts(text)
    assert not [e.message for e in validator.iter_errors(yaml.safe_load(text))]


@pytest.mark.parametrize(
    ("frameworks", "ok"),
    [
        ("{keras: {version: '3.11', backend: jax}}", True),
        ("{pytorch: {companions: [torchvision]}}", True),
        ("{jax: {backend: jax}}", False),
        ("{keras: {companions: [torchvision]}}", False),
        ("{tensorflow: {companions: []}}", True),
        ("{pytorch: '2.8.0'}", True),
        ("{pytorch: '2.8rc1'}", False),
        ("{pytorch: 2.8}", False),
        ("{caffe: null}", False),
    ],
)
def test_framework_options(validator: jsonschema.Draft202012Validator, frameworks: str, ok: bool) -> None:
    text = f"name: x\naccelerator: cpu\nframeworks: {frameworks}\n"
    assert _validate_accepts(text) is ok
    assert (not list(validator.iter_errors(yaml.safe_load(text)))) is ok


def test_every_builtin_profile_passes_check_jsonschema(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", "--schema"])  # no profile needed
    assert result.exit_code == 0, result.output
    schema = tmp_path / "profile.schema.json"
    schema.write_text(result.stdout)
    profiles = sorted(str(p) for p in paths.builtin_profiles_dir().glob("*.yaml"))
    check = [str(Path(sys.executable).parent / "check-jsonschema"), "--schemafile", str(schema)]
    run = subprocess.run([*check, *profiles], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE + "smoke: {min_tflops: -1}\npackages: ['numpy; rm -rf /']\n")
    run = subprocess.run([*check, str(bad)], capture_output=True, text=True)
    assert run.returncode == 1 and "min_tflops" in run.stdout and "packages" in run.stdout


def test_validate_without_a_profile_or_schema_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2 and "give a PROFILE" in result.output


def _keys(node: Any, where: str = "") -> list[str]:
    """Every keyword used in the schema (the names under properties and $defs are not keywords)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    found += _keys(sub, f"{where}/{name}")
                continue
            found.append(f"{where}:{key}")
            if key not in ("default", "examples", "const", "enum"):
                found += _keys(value, f"{where}/{key}")
    elif isinstance(node, list):
        for item in node:
            found += _keys(item, where)
    return found


def test_the_schema_uses_json_schema_keywords_only_and_points_to_files_that_exist() -> None:
    schema = profile_json_schema()
    unknown = [k for k in _keys(schema) if k.rsplit(":", 1)[1] not in KEYWORDS]
    assert not unknown, unknown
    text = json.dumps(schema)
    for name in re.findall(r"[\w/.-]+\.(?:md|yaml|json)\b", text):
        assert list(REPO.glob(f"**/{name.rsplit('/', 1)[-1]}")), (
            f"the schema points to {name}, which is not here"
        )
    assert "DESIGN.md" not in text
