"""Both build layouts on the real engine: served inputs (the default here) and staged inputs.

Either way no build input is in any layer, the environment is group-writable for the image's
user, and an image for another UID reuses every layer below the user's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import dlenv, layer_paths, step_output
from .test_cpu_profiles import assert_no_build_inputs

PROFILE = 'name: {name}\naccelerator: cpu\nos: debian12\nframeworks: {{pytorch: "2.13"}}\n'
# Run as the image's user: the environment is theirs to change (group dlenv-venv).
USER_CHECK = (
    "id -Gn | tr ' ' '\\n' | grep -qx dlenv-venv && echo in-group; "
    "pip uninstall -y -q six && echo uninstalled; "
    "python -c 'import torch, numpy; print(\"imports\")'"
)


OTHER_USER_CHECK = (
    "id -Gn | tr ' ' '\\n' | grep -qx dlenv-venv && echo in-group; "
    "pip uninstall -y -q numpy && echo uninstalled; "
    "python -c 'import torch; print(\"imports\")' 2>/dev/null"
)


def test_staged_inputs_build_a_working_image(tmp_path: Path, docker_client: Any) -> None:
    profile = tmp_path / "staged-probe.yaml"
    profile.write_text(PROFILE.format(name="staged-probe") + "packages: [six]\n")
    run = dlenv("build", str(profile), "--inputs", "staged", "--pip-from-host", "--progress", "json")
    assert run.code == 0, run.stderr[-3000:]
    assert "build inputs staged (--inputs staged)" in run.stderr
    image = "dlenv/staged-probe:latest"
    try:
        assert step_output(run.stderr, "COPY --from=frameworks") is not None
        out = docker_client.containers.run(image, ["bash", "-c", USER_CHECK], remove=True).decode()
        assert out.split() == ["in-group", "uninstalled", "imports"], out
        assert_no_build_inputs(layer_paths(docker_client, image))
    finally:
        docker_client.images.remove(image, force=True)


def _probe_wheel(folder: Path) -> None:
    """A one-module wheel that exists nowhere but in this wheelhouse."""
    import base64
    import hashlib
    import zipfile

    files = {
        "dlenv_probe.py": b"ANSWER = 42\n",
        "dlenv_probe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: dlenv-probe\nVersion: 1.0\n",
        "dlenv_probe-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for name, data in files.items()
    )
    folder.mkdir()
    with zipfile.ZipFile(folder / "dlenv_probe-1.0-py3-none-any.whl", "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr("dlenv_probe-1.0.dist-info/RECORD", record + "dlenv_probe-1.0.dist-info/RECORD,,\n")


def test_served_inputs_with_extras_leave_no_trace(tmp_path: Path, docker_client: Any) -> None:
    """Extras from a wheelhouse (served as a find-links page) and from PyPI; no input in a layer."""
    _probe_wheel(tmp_path / "wheels")
    profile = tmp_path / "served-probe.yaml"
    profile.write_text(
        PROFILE.format(name="served-probe") + "packages: [six, dlenv-probe]\npip: {find_links: [./wheels]}\n"
    )
    run = dlenv("build", str(profile), "--pip-from-host", "--progress", "json")
    assert run.code == 0, run.stderr[-3000:]
    assert "build inputs served" in run.stderr
    image = "dlenv/served-probe:latest"
    try:
        out = docker_client.containers.run(image, ["bash", "-c", USER_CHECK], remove=True).decode()
        assert out.split() == ["in-group", "uninstalled", "imports"], out
        probe = ["python", "-c", "import dlenv_probe; print(dlenv_probe.ANSWER)"]
        assert docker_client.containers.run(image, probe, remove=True).strip() == b"42"
        assert_no_build_inputs(layer_paths(docker_client, image))
        # The environment is written once: one layer holds it, no COPY of it.
        history = [str(h.get("CreatedBy", "")) for h in docker_client.api.history(image)]
        assert not any("COPY --from" in h for h in history)
    finally:
        docker_client.images.remove(image, force=True)


def test_another_uid_reuses_every_layer_below_the_user(
    tmp_path: Path, docker_client: Any, pytorch_cpu: str
) -> None:
    """What a dev image for another UID costs: the user's own layers, nothing else."""
    profile = tmp_path / "pytorch-cpu.yaml"  # same name and content as the built-in, other UID
    builtin = (
        Path(__file__).resolve().parents[2] / "builder" / "profile" / "builtin" / "pytorch-cpu.yaml"
    ).read_text()
    profile.write_text(builtin + "user: {name: other, uid: 4321, gid: 4321}\n")
    run = dlenv(
        "build", str(profile), "--pip-from-host", "--progress", "json", "-t", "dlenv-test/other-uid:1"
    )
    assert run.code == 0, run.stderr[-3000:]
    try:
        assert "Using cache" in step_output(run.stderr, "python3 -m venv")
        assert "Using cache" not in step_output(run.stderr, "useradd")
        out = docker_client.containers.run(
            "dlenv-test/other-uid:1",
            ["bash", "-c", "id -u; " + OTHER_USER_CHECK],
            remove=True,
        ).decode()
        assert out.split() == ["4321", "in-group", "uninstalled", "imports"], out
    finally:
        docker_client.images.remove("dlenv-test/other-uid:1", force=True)
