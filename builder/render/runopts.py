"""An accelerator's container options in the formats dlenv writes for others.

RuntimeOptions (from the matrix, carried by the BuildSpec) say what a container of the image
needs: an NVIDIA GPU device request, or AMD's /dev/kfd and /dev/dri with the video/render
groups and seccomp, and a shared-memory size. Each function below is one output format:
compose service keys, and `docker run` arguments (devcontainer.json, the Dockerfile's run
hint). The engine translates the same options into its own API (engine/docker_engine.py).
"""

from __future__ import annotations

from builder.spec import RuntimeOptions


def compose_keys(opts: RuntimeOptions) -> dict[str, object]:
    """Keys of a compose service (compose-spec: deploy.resources.reservations.devices)."""
    keys: dict[str, object] = {"shm_size": opts.shm_size}
    if opts.gpus:
        keys["deploy"] = {
            "resources": {
                "reservations": {"devices": [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]}
            }
        }
    if opts.devices:
        keys["devices"] = list(opts.devices)
    if opts.group_add:
        keys["group_add"] = list(opts.group_add)
    if opts.security_opt:
        keys["security_opt"] = list(opts.security_opt)
    return keys


def cli_args(opts: RuntimeOptions) -> list[str]:
    """`docker run` arguments, in the order a person would type them."""
    args: list[str] = []
    if opts.gpus:
        args += ["--gpus", "all"]
    for device in opts.devices:
        args += ["--device", device]
    for group in opts.group_add:
        args += ["--group-add", group]
    for option in opts.security_opt:
        args += ["--security-opt", option]
    args += ["--shm-size", opts.shm_size]
    return args


def run_hint(opts: RuntimeOptions, image: str = "IMAGE", command: str = "dlenv-smoke") -> str:
    """The one-line `docker run` that starts the image's smoke test with the right devices."""
    return " ".join(["docker", "run", "--rm", *cli_args(opts), image, command])
