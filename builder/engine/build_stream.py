"""The classic builder's answer, read: build and push streams into events, digests and errors.

Pure functions over the decoded JSON chunks the engine streams back, so every failure the
engine can report is unit-tested without an engine.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from builder import names
from builder.engine.protocol import BuildContainer, BuildEvent, BuildLayer, BuiltImage
from builder.errors import BuildFailed, RegistryUnreachable
from builder.events import BuildOutput, BuildStep

_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_RUNNING_IN_RE = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})$")
_LAYER_RE = re.compile(r"^ ---> ([0-9a-f]{12,64})$")
# Engine 20.10 says this at every step of an emulated build although the platform was
# requested (its classic builder does not pass it on to the step containers): harmless noise.
_PLATFORM_NOISE = re.compile(
    r"^ ---> \[Warning\] The requested image's platform .* does not match the detected host"
)
_BUILT_RE = re.compile(r"^Successfully built ([0-9a-f]+)")
_PULL_FAILURE = re.compile(
    r"pull access denied|manifest unknown|not found: manifest|no such host|"
    r"dial tcp|TLS handshake timeout|i/o timeout|repository does not exist|connection refused|"
    r"does not match the specified platform|no matching manifest",
    re.IGNORECASE,
)
_DISK_FULL = re.compile(r"no space left on device", re.IGNORECASE)
_DIGEST_LINE = re.compile(r"^(?P<tag>\S+): digest: (?P<digest>sha256:[0-9a-f]{64}) size: \d+$")
_AUTH = re.compile(r"unauthorized|authentication required|denied|no basic auth credentials", re.IGNORECASE)
TAIL_LINES = 25


def build_events(chunks: Iterable[dict[str, Any]], base_image: str) -> Iterator[BuildEvent]:
    """Steps, output and intermediate containers as they come; BuiltImage last, or BuildFailed."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    current = "(before the first step)"
    found = ""
    for chunk in chunks:
        if "error" in chunk:
            raise build_error(chunk, current, tail, base_image)
        aux = chunk.get("aux")
        if isinstance(aux, dict) and "ID" in aux:
            found = str(aux["ID"])
        for line in str(chunk.get("stream", "")).splitlines():
            step = _STEP_RE.match(line.strip())
            if step:
                current = line.strip()
                yield BuildStep(int(step.group(1)), int(step.group(2)), step.group(3))
                continue
            if not line.strip() or _PLATFORM_NOISE.match(line):
                continue
            tail.append(line)
            running = _RUNNING_IN_RE.match(line.rstrip())
            if running:
                yield BuildContainer(running.group(1))
            layer = _LAYER_RE.match(line.rstrip())
            if layer:
                yield BuildLayer(layer.group(1))
            yield BuildOutput(line)
            built = _BUILT_RE.match(line.strip())
            if built and not found:
                found = built.group(1)
        if chunk.get("status"):  # pulling a base image
            yield BuildOutput(str(chunk["status"]))
    if not found:
        raise BuildFailed(
            "The build ended without producing an image.", hint="Last output:\n" + "\n".join(tail)
        )
    yield BuiltImage(found)


def build_error(chunk: dict[str, Any], step: str, tail: deque[str], base: str) -> BuildFailed:
    """The error chunk of a build, in words: which step, why, and what to do."""
    message = str(chunk.get("error", "")).strip()
    lines = "\n".join(f"    {line}" for line in tail) or "    (no output)"
    if _PULL_FAILURE.search(message) and ("FROM" in step or "(before" in step):
        return BuildFailed(
            f"The base image {base} is not in the engine and cannot be pulled: {message}",
            hint="Fix: pull or `docker load` it on this engine; for debian:bookworm-slim run "
            "scripts/make-base-image.sh (debootstrap, no registry needed; add --arch arm64 for "
            "arm64v8/debian:bookworm-slim); or pass --base-image with a mirror you can reach.",
        )
    if any("DO NOT MATCH THE HASHES" in line or "Hash mismatch for" in line for line in tail):
        return _hash_mismatch(list(tail), step, lines)
    if names.INPUTS_HOST in step and any("urlopen error" in line or "URLError" in line for line in tail):
        return BuildFailed(
            f"The build could not fetch its inputs from dlenv ({names.INPUTS_HOST}, this host's "
            f"loopback) at {step.split(' : ')[0]}.",
            hint="The engine's RUN steps use the host network for served inputs; a firewall on "
            "the loopback or an engine in its own network namespace (rootless, a VM) prevents it. "
            f"Build with --inputs staged instead.\nLast output lines:\n{lines}",
        )
    if any("differ from the lock" in line for line in tail):
        detail = "; ".join(line.strip() for line in tail if line.startswith("  ") and ":" in line)
        return BuildFailed(
            f"The installed packages differ from the lock: {detail}", hint=f"Last output lines:\n{lines}"
        )
    if _DISK_FULL.search(message) or any(_DISK_FULL.search(line) for line in tail):
        return BuildFailed(
            f"The engine ran out of disk space at {step}: {message}",
            hint="Free space where the engine keeps images (`docker system df`; "
            "`docker builder prune` and `docker image prune` remove build cache and dangling "
            "images), or move its data-root to a larger disk; then build again.\n"
            f"Last output lines:\n{lines}",
        )
    if "exec format error" in message or any("exec format error" in line for line in tail):
        return BuildFailed(
            f"The build failed at {step}: the engine cannot run programs of the image's platform "
            "(exec format error).",
            hint="Building for another CPU architecture needs QEMU user emulation registered with "
            "binfmt_misc (F flag): run scripts/setup-emulation.sh.\n"
            f"Last output lines:\n{lines}",
        )
    return BuildFailed(f"The build failed at {step}\n  error: {message}", hint=f"Last output lines:\n{lines}")


def _hash_mismatch(tail: list[str], step: str, lines: str) -> BuildFailed:
    """A --require-hashes failure (pip's or uv's), with each package's expected and actual sha256."""
    found = []
    for i, line in enumerate(tail):
        match = re.match(r"^\s+(\S+==\S+) from ", line)  # pip
        if match:
            expected = next((t.split()[-1] for t in tail[i + 1 : i + 3] if "Expected sha256" in t), "?")
            got = next((t.split()[-1] for t in tail[i + 1 : i + 4] if t.strip().startswith("Got")), "?")
            found.append(f"{match.group(1)} (lock {expected[:12]}..., downloaded {got[:12]}...)")
        match = re.search(r"Hash mismatch for `([^`]+)`", line)  # uv
        if match:
            digests = [t.strip().removeprefix("sha256:") for t in tail[i + 1 : i + 9] if "sha256:" in t]
            expected, got = (digests + ["?", "?"])[:2]
            found.append(f"{match.group(1)} (lock {expected[:12]}..., downloaded {got[:12]}...)")
    where = step.split(" : ")[0]
    return BuildFailed(
        f"A wheel's sha256 does not match the lock ({where}): " + ("; ".join(found) or "see below"),
        hint="The lock or the index changed under it. If the index legitimately republished the "
        "wheel, re-lock (`dlenv lock PROFILE`); vendor indexes have served wrong hashes before "
        "(pytorch/pytorch#181056). Nothing was tagged.\nLast output lines:\n" + lines,
    )


def registry_of(repository: str) -> str:
    """The registry host of a repository name (docker.io when it names none)."""
    first = repository.split("/")[0]
    named = "/" in repository and ("." in first or ":" in first or first == "localhost")
    return first if named else "docker.io"


def push_digest(event: dict[str, Any], repository: str, tag: str) -> str | None:
    """The digest a push event reports, if any; RegistryUnreachable for an error event.

    Errors arrive inside the stream of an HTTP 200 answer (docker/docker-py#1772). The digest is
    in the aux record (graphdriver store) or in "<tag>: digest: sha256:… size: N" (containerd).
    """
    if "error" in event or "errorDetail" in event:
        message = str(event.get("error") or event.get("errorDetail", {}).get("message", "")).strip()
        hint = (
            f"Log in first: docker login {registry_of(repository)}"
            if _AUTH.search(message)
            else "Check that the registry is up and reachable from the engine."
        )
        raise RegistryUnreachable(f"the push of {repository}:{tag} failed: {message}", hint=hint)
    aux = event.get("aux")
    if isinstance(aux, dict) and str(aux.get("Digest", "")).startswith("sha256:"):
        return str(aux["Digest"])
    match = _DIGEST_LINE.match(str(event.get("status", "")))
    if match and match.group("tag") == tag:
        return match.group("digest")
    return None


def start_failure_hint(text: str) -> str | None:
    """What to do when the engine refuses to start a container, for the failures we know."""
    hint = None
    if "could not select device driver" in text:
        hint = (
            "No GPU runtime: install the NVIDIA container toolkit and run "
            "`nvidia-ctk runtime configure --runtime=docker`, or use --allow-cpu."
        )
    elif "/dev/kfd" in text or "/dev/dri" in text:
        hint = "No AMD GPU device nodes on this host (/dev/kfd, /dev/dri); or use --allow-cpu."
    elif "bridge" in text and "no such network interface" in text:
        hint = (
            "The engine's default bridge (docker0) is gone: restart dockerd "
            "(`sudo systemctl restart docker`) to recreate it."
        )
    elif "exec format error" in text:
        hint = (
            "The image is for another CPU architecture: run scripts/setup-emulation.sh (QEMU, binfmt_misc)."
        )
    return hint
