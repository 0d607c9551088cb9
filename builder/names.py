"""Names dlenv gives things: image references, container names and label keys, defined once."""

from __future__ import annotations

# Image labels (OCI ones where a standard key exists, dlenv's own under io.dlenv.).
LABEL_TITLE = "org.opencontainers.image.title"
LABEL_DESCRIPTION = "org.opencontainers.image.description"
LABEL_BASE_NAME = "org.opencontainers.image.base.name"
LABEL_BASE_DIGEST = "org.opencontainers.image.base.digest"
LABEL_PROFILE = "io.dlenv.profile"
LABEL_SPEC_DIGEST = "io.dlenv.spec-digest"
LABEL_ACCELERATOR = "io.dlenv.accelerator"
LABEL_TOOLKIT = "io.dlenv.toolkit"
LABEL_PYTHON = "io.dlenv.python"
LABEL_PLATFORM = "io.dlenv.platform"
LABEL_FRAMEWORKS = "io.dlenv.frameworks"
LABEL_SMOKE = "io.dlenv.smoke"
LABEL_SMOKE_TIMEOUT = "io.dlenv.smoke-timeout"
LABEL_SMOKE_PEAK_FRACTION = "io.dlenv.smoke-min-peak-fraction"
LABEL_RUNTIME = "io.dlenv.runtime"
LABEL_LOCK_DIGEST = "io.dlenv.lock-digest"
# Per framework, the GPU architectures (SASS, PTX) its wheels carry: doctor, `dev up` and `smoke`
# read it to tell, before starting anything, whether the host's GPU has kernels in the image.
LABEL_GPU_ARCHS = "io.dlenv.gpu-archs"

# Container labels.
LABEL_DEV = "io.dlenv.dev"
LABEL_WORKSPACE = "io.dlenv.workspace"
LABEL_JUPYTER_URL = "io.dlenv.jupyter-url"
# Every container and network a command creates carries its run ID, so cleanup finds it even
# when the create call never returned (Ctrl-C in the middle of the request).
LABEL_RUN_ID = "io.dlenv.run-id"

SMOKE_COMMAND = "dlenv-smoke"
# The host name a served build's RUN steps fetch their inputs from: mapped to dlenv's loopback
# address through the build's extra_hosts, never resolved through DNS.
INPUTS_HOST = "dlenv-inputs"
DEV_CONTAINER_PREFIX = "dlenv-dev-"


def profile_image(profile: str, platform: str = "linux/amd64") -> str:
    """The image `dlenv build PROFILE` tags and `dlenv smoke PROFILE` runs: `latest` for the
    default platform, `latest-arm64` for linux/arm64 (so building one never replaces the other)."""
    return f"dlenv/{profile}:latest{platform_suffix(platform)}"


def platform_suffix(platform: str) -> str:
    """'' for linux/amd64, '-arm64' for linux/arm64: what tells a platform's tags apart."""
    return "" if platform == "linux/amd64" else "-" + platform.split("/")[1]


def spec_image(profile: str, digest: str) -> str:
    """The content-addressed tag of a build: same spec, same tag."""
    return f"dlenv/{profile}:{digest[:12]}"


def dev_image(profile: str, digest: str) -> str:
    return f"dlenv/{profile}:dev-{digest[:12]}"


def dev_container(profile: str) -> str:
    return f"{DEV_CONTAINER_PREFIX}{profile}"


def run_container(role: str, run_id: str, serial: int) -> str:
    """A short-lived container of one command run (smoke test, probe, verify)."""
    return f"dlenv-{role}-{run_id}-{serial}"
