"""The PEP 751 `pylock.*.toml` that `dlenv lock --pylock` writes, installed by its real readers.

uv (the version this repository pins) and pip (the dev environment's; `pip install -r
pylock.toml` is experimental there) each install the file into a fresh virtual environment of
the image's own Python, in a container from the built image: the installed set must equal the
dlenv lock's pins, and a pylock with one wrong hash must be refused by both.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from .conftest import dlenv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CA_IN_CONTAINER = "/opt/site-ca.pem"
SCRIPT = r"""
set -uo pipefail
unset VIRTUAL_ENV PIP_CONFIG_FILE
py=/usr/bin/python3
echo "python $($py -c 'import platform; print(platform.python_version())')"
installed() { "$1" -c 'import importlib.metadata as m, json
print(json.dumps(sorted([d.metadata["Name"], d.version] for d in m.distributions())))'; }
uv_install() {  # venv, pylock
  SSL_CERT_FILE=/opt/site-ca.pem /opt/uv/uv pip install --preview-features pylock \
    --python "$1/bin/python" --cache-dir /tmp/uv-cache -r "$2" 2>&1
}
pip_install() {  # venv, pylock: pip run from the host's copy, installing into the venv
  PYTHONPATH=/opt/pip-src PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$1/bin/python" -m pip install --no-cache-dir --cert /opt/site-ca.pem -r "$2" 2>&1
}
for tool in uv pip; do
  $py -m venv --without-pip /tmp/$tool-venv
  out=$(${tool}_install /tmp/$tool-venv /pylock/pylock.toml); code=$?
  echo "install-$tool $code"; [ $code = 0 ] || echo "$out" | tail -20
  echo "installed-$tool $(installed /tmp/$tool-venv/bin/python)"
  $py -m venv --without-pip /tmp/$tool-tampered
  out=$(${tool}_install /tmp/$tool-tampered /pylock/pylock.tampered.toml); code=$?
  echo "tampered-$tool $code $(echo "$out" | grep -ic hash)"
done
check="import torch; print(torch.__version__, float(torch.ones(2).sum()))"
echo "torch $(/tmp/uv-venv/bin/python -c "$check")"
"""


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A dlenv lock of pytorch-cpu and its pylock export, plus a copy with one wrong hash."""
    folder = tmp_path_factory.mktemp("pylock")
    lock, pylock = folder / "pytorch-cpu.dlenv.lock", folder / "pylock.toml"
    run = dlenv("lock", "pytorch-cpu", "--lock", str(lock), "--pylock", str(pylock), "--pip-from-host")
    assert run.code == 0, run.stderr[-3000:]
    document = tomllib.loads(pylock.read_text())
    small = min(document["packages"], key=lambda p: p["wheels"][0].get("size") or 1 << 40)
    wheel = small["wheels"][0]
    wheel["hashes"]["sha256"] = ("0" if wheel["hashes"]["sha256"][0] != "0" else "1") + wheel["hashes"][
        "sha256"
    ][1:]
    import tomli_w

    (folder / "pylock.tampered.toml").write_text(tomli_w.dumps({**document, "packages": [small]}))
    folder.chmod(0o755)  # the image's user reads it (mounted; pytest's folders are root's only)
    for name in ("pylock.toml", "pylock.tampered.toml"):
        (folder / name).chmod(0o644)
    data = tomllib.loads(lock.read_text())
    pins = sorted(
        [_normalize(p["name"]), p["version"]] for p in (*data["frameworks"], *data.get("extras", []))
    )
    local = sorted(
        {
            str(Path(unquote(urlsplit(w["url"]).path)).parent)
            for p in document["packages"]
            for w in p["wheels"]
            if w["url"].startswith("file://")
        }
    )
    return {"folder": folder, "pins": pins, "python": data["inputs"]["python"], "local_dirs": local}


def _pip_source() -> tuple[str, str]:
    """The dev environment's pip (its package folder, and version), which must read pylock."""
    import subprocess

    import pip

    help_text = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--help"], capture_output=True, text=True
    ).stdout
    assert "pylock" in help_text, f"pip {pip.__version__} cannot install a pylock; run scripts/setup-host.sh"
    return str(Path(pip.__file__).parent), pip.__version__


def test_uv_and_pip_install_exactly_the_locked_pins(
    docker_client: Any, pytorch_cpu: str, locked: dict[str, Any]
) -> None:
    import os

    from uv import find_uv_bin

    pip_dir, _ = _pip_source()
    ca = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
    volumes = {
        str(locked["folder"]): {"bind": "/pylock", "mode": "ro"},
        find_uv_bin(): {"bind": "/opt/uv/uv", "mode": "ro"},
        pip_dir: {"bind": "/opt/pip-src/pip", "mode": "ro"},
        os.path.realpath(ca): {"bind": CA_IN_CONTAINER, "mode": "ro"},
        # A wheelhouse the lock found a wheel in (file:// URL): at the same path, as on the host.
        **{d: {"bind": d, "mode": "ro"} for d in locked["local_dirs"]},
    }
    container = docker_client.containers.run(
        pytorch_cpu, ["bash", "-c", SCRIPT], volumes=volumes, entrypoint="", detach=True
    )
    try:
        status = container.wait(timeout=1500)
        output = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, output[-4000:]
    lines = dict(line.split(" ", 1) for line in output.splitlines() if " " in line)
    assert lines.get("python") == locked["python"], "a fresh venv of the image's own Python"
    for tool in ("uv", "pip"):
        assert lines.get(f"install-{tool}") == "0", output[-4000:]
        installed = sorted([_normalize(n), v] for n, v in json.loads(lines[f"installed-{tool}"]))
        assert installed == locked["pins"], f"{tool} installed something else than the lock's pins"
        code, hash_lines = lines[f"tampered-{tool}"].split()
        assert code != "0" and int(hash_lines) > 0, f"{tool} installed a wheel whose hash was wrong"
    assert lines.get("torch", "").startswith("2.13.0+cpu 2.0"), output[-2000:]
