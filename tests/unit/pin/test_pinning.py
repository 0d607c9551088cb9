"""The pure pinning code: lock files read and checked, uv's answers parsed, images compared with
a lock, push references parsed. No network, no Docker, no uv run."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import CheckFailed, IndexUnreachable, LockError, ResolveError, UsageError
from builder.pin import lockfile
from builder.pin.lock import pylock
from builder.pin.lockfile import Base, LockFile, Resolver, content_digest, inputs_of, platform_of
from builder.pin.push import parse_reference
from builder.pin.verify import Manifest, against_lock
from builder.profile.load import load_profile, parse_profile
from builder.resolve.decide import resolve
from builder.resolve.uv import Package, Wheel, failure_of, parse_pylock
from builder.spec import BuildSpec

SHA_A, SHA_B = "a" * 64, "b" * 64


def _spec(extra: str = "") -> BuildSpec:
    if not extra:
        return resolve(load_profile("pytorch-cpu")[0])
    text = "name: pytorch-cpu\naccelerator: cpu\nos: debian12\nframeworks: {pytorch: '2.13'}\n" + extra
    return resolve(parse_profile(text))


def _package(name: str, version: str, sha: str = SHA_A) -> Package:
    wheel = Wheel(name=f"{name}-{version}-py3-none-any.whl", url=f"https://x/{name}.whl", sha256=sha)
    return Package(name=name, version=version, wheels=(wheel,))


def _lock(
    spec: BuildSpec, frameworks: tuple[Package, ...] = (), extras: tuple[Package, ...] = ()
) -> LockFile:
    frameworks = frameworks or (_package("torch", "2.13.0+cpu"), _package("numpy", "2.3.4", SHA_B))
    platform = platform_of(spec)
    base = Base(ref=spec.base_image, image_id="sha256:" + "c" * 64)
    return LockFile(
        lock_version=1,
        created_by="dlenv test",
        created="2026-11-27T23:12:39Z",
        profile=spec.profile,
        spec_digest=spec.digest,
        lock_digest=content_digest(base, frameworks, extras, platform.uv_platform),
        inputs=inputs_of(spec, platform),
        resolver=Resolver(
            tool="uv 0.13.9", index_strategy="unsafe-best-match", sources=("https://pypi.org/simple",)
        ),
        base=base,
        frameworks=frameworks,
        extras=extras,
    )


def test_a_lock_round_trips_through_its_file(tmp_path: Path) -> None:
    spec = _spec()
    lock = _lock(spec)
    path = tmp_path / "pytorch-cpu.dlenv.lock"
    lockfile.write(lock, path)
    assert lockfile.read(path) == lock
    assert path.read_text().startswith("# dlenv lock file")
    assert lock.source_date_epoch == 1795821159  # 2026-11-27T23:12:39Z
    assert lockfile.check(path, spec, platform_of(spec)) == lock


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("lock-version = [", "is not a valid TOML lock file"),
        ("lock-version = 2\n", "lock-version"),
        ("VALID-LOCK", "surprise: unknown key"),
    ],
)
def test_a_malformed_lock_is_an_input_error(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "x.dlenv.lock"
    if text == "VALID-LOCK":  # a whole lock with one key too many
        lockfile.write(_lock(_spec()), path)
        text = 'surprise = "x"\n' + path.read_text()
    path.write_text(text)
    with pytest.raises(LockError) as info:
        lockfile.read(path)
    assert info.value.exit_code == 2 and says in info.value.message and str(path) in info.value.message


def test_a_missing_lock_says_how_to_make_it(tmp_path: Path) -> None:
    spec = _spec()
    with pytest.raises(CheckFailed) as info:
        lockfile.check(tmp_path / "pytorch-cpu.dlenv.lock", spec, platform_of(spec))
    assert info.value.exit_code == 1 and "no lock file" in info.value.message
    assert info.value.hint == "Create it: dlenv lock pytorch-cpu"


def test_check_names_what_changed_since_the_lock(tmp_path: Path) -> None:
    old = _spec()
    path = tmp_path / "pytorch-cpu.dlenv.lock"
    lockfile.write(_lock(old), path)
    new = _spec("packages: ['pandas>=2']\napt: [git]\n")
    assert lockfile.changes(lockfile.read(path), new, platform_of(new)) == ["extra packages: +pandas>=2"]
    with pytest.raises(CheckFailed) as info:
        lockfile.check(path, new, platform_of(new))
    assert "is stale; since it was made, extra packages: +pandas>=2." in info.value.message
    only_apt = _spec("apt: [git]\n")
    assert lockfile.changes(lockfile.read(path), only_apt, platform_of(only_apt)) == [
        "the profile's other settings (apt, env, user, smoke)"
    ]
    moved = old.model_copy(update={"base_image": "mirror.example/debian:bookworm-slim"})
    assert lockfile.changes(lockfile.read(path), moved, platform_of(moved)) == [
        "the base image: debian:bookworm-slim -> mirror.example/debian:bookworm-slim"
    ]


def test_the_content_digest_covers_what_is_installed_only() -> None:
    base = Base(ref="debian:bookworm-slim", digest="sha256:" + "e" * 64)
    one = (_package("six", "1.17.0"),)
    assert content_digest(base, one, (), "x86_64-manylinux_2_36") == content_digest(
        base, one, (), "x86_64-manylinux_2_36"
    )
    assert content_digest(base, one, (), "x86_64-manylinux_2_36") != content_digest(
        base, (_package("six", "1.17.0", SHA_B),), (), "x86_64-manylinux_2_36"
    )
    assert content_digest(base, one, (), "x86_64-manylinux_2_36") != content_digest(
        base, one, (), "aarch64-manylinux_2_36"
    )


def test_credentials_never_reach_a_lock() -> None:
    assert lockfile.strip_credentials("https://bob:s3cret@pypi.example:8443/simple/") == (
        "https://pypi.example:8443/simple/"
    )
    assert lockfile.strip_credentials("https://pypi.org/simple") == "https://pypi.org/simple"


UV_PYLOCK = f"""
lock-version = "1.0"
created-by = "uv"
requires-python = "==3.11.2"

[[packages]]
name = "six"
version = "1.17.0"
[[packages.wheels]]
url = "https://files.example/six-1.17.0-py2.py3-none-any.whl"
size = 11050
hashes = {{ sha256 = "{SHA_A}" }}

[[packages]]
name = "idna"
version = "3.10"
wheels = [{{ path = "/opt/wheels/idna-3.10-py3-none-any.whl", hashes = {{ sha256 = "{SHA_B}" }} }}]
"""


def test_uvs_pylock_output_is_read_sorted_with_every_hash() -> None:
    packages = parse_pylock(UV_PYLOCK)
    assert [(p.name, p.version) for p in packages] == [("idna", "3.10"), ("six", "1.17.0")]
    assert packages[0].wheels[0].url == "/opt/wheels/idna-3.10-py3-none-any.whl"
    assert packages[1].wheels[0].size == 11050
    assert packages[1].requirement_line() == f"six==1.17.0 --hash=sha256:{SHA_A}"


def test_a_package_without_a_hashed_wheel_cannot_be_locked() -> None:
    text = '[[packages]]\nname = "odd"\nversion = "1"\nwheels = [{ url = "https://x/odd.whl" }]\n'
    with pytest.raises(ResolveError, match="no wheel with a sha256 hash for odd 1"):
        parse_pylock(text)


def test_uv_failures_are_told_apart() -> None:
    platform = platform_of(_spec())
    conflict = failure_of(
        "  × No solution found when resolving dependencies:\n"
        "  ╰─▶ Because torch==9 was not found, we can conclude ...",
        platform,
    )
    assert isinstance(conflict, ResolveError) and "Because torch==9 was not found" in conflict.message
    offline = failure_of(
        "error: Failed to fetch: `https://pypi.org/simple/six/`\n  Caused by: dns error", platform
    )
    assert isinstance(offline, IndexUnreachable) and offline.exit_code == 6


def _manifest(*python: str) -> Manifest:
    return Manifest("img", "sha256:1", "sha256:2", 10, python, ("bash=5.2",), {})


def test_an_image_is_compared_with_its_lock_by_name_and_version() -> None:
    lock = _lock(_spec())
    assert against_lock(_manifest("torch==2.13.0+cpu", "numpy==2.3.4", "pip==25.1"), lock) == []
    assert against_lock(_manifest("torch==2.13.0+cpu", "NumPy==2.3.5", "six==1.17.0"), lock) == [
        "numpy: lock 2.3.4, image 2.3.5",
        "not in the lock: six==1.17.0",
    ]
    assert against_lock(_manifest("numpy==2.3.4"), lock) == ["missing torch==2.13.0+cpu"]


def test_the_pylock_export_names_the_platform_and_every_hash() -> None:
    lock = _lock(_spec())
    data = pylock(lock)
    assert data["lock-version"] == "1.0" and data["requires-python"] == "==3.11.2"
    assert "platform_machine == 'x86_64'" in data["environments"][0]  # type: ignore[index]
    packages = data["packages"]
    assert isinstance(packages, list) and [p["name"] for p in packages] == ["torch", "numpy"]
    assert packages[0]["wheels"][0]["hashes"] == {"sha256": SHA_A}


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("localhost:5000/team/pytorch", ("localhost:5000/team/pytorch", "latest")),
        ("registry.example.com/team/pytorch:2026-11", ("registry.example.com/team/pytorch", "2026-11")),
        ("pytorch:v1.2_3", ("pytorch", "v1.2_3")),
    ],
)
def test_push_references(ref: str, expected: tuple[str, str]) -> None:
    assert parse_reference(ref) == expected


@pytest.mark.parametrize(
    "ref", ["Team/PyTorch:1", "pytorch:", "a;rm -rf /", "x" * 256, "repo@sha256:" + "a" * 64]
)
def test_bad_push_references_are_usage_errors(ref: str) -> None:
    with pytest.raises(UsageError, match="not a valid image reference"):
        parse_reference(ref)
