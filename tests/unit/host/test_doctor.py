"""doctor: parsers on real recorded outputs, and the verdicts built on them."""

from __future__ import annotations

import pytest
import yaml
from packaging.version import Version

from builder.facts.matrix import load_matrix
from builder.host import doctor
from builder.host.doctor import DockerFacts, HostFacts
from builder.host.probe import (
    CpuInfo,
    parse_amd_smi_static,
    parse_cpuinfo,
    parse_meminfo,
    parse_nvidia_smi,
    parse_rocm_smi_productname,
    parse_rocminfo,
)
from builder.profile.load import load_profile, parse_profile
from builder.resolve.decide import resolve
from builder.spec import BuildSpec
from tests.paths import FIXTURES

FIX = FIXTURES / "host"
M = load_matrix()


def fixture(name: str) -> str:
    return (FIX / name).read_text()


@pytest.mark.parametrize(
    ("name", "gpus", "driver", "cap"),
    [
        ("nvidia-h100-580.csv", 1, "580.82.07", "9.0"),
        ("nvidia-4xa100-580.csv", 4, "580.105.08", "8.0"),
        ("nvidia-p100-580.csv", 1, "580.178.04", "6.0"),
        ("nvidia-rtx3080-535.csv", 1, "535.129.03", "8.6"),
        ("nvidia-rtx4080s-610.csv", 1, "610.88", "8.9"),
        ("nvidia-t4-no-driver-column.csv", 1, None, "7.5"),
    ],
)
def test_nvidia_smi_parser(name: str, gpus: int, driver: str | None, cap: str) -> None:
    report = parse_nvidia_smi(fixture(name))
    assert report.error is None and len(report.gpus) == gpus
    assert report.driver == driver and report.gpus[0].compute_cap == cap
    assert report.gpus[0].memory_mib and report.gpus[0].memory_mib > 10_000


@pytest.mark.parametrize("name", ["nvidia-smi-failed.txt", "nvidia-no-devices.txt"])
def test_nvidia_smi_failures(name: str) -> None:
    report = parse_nvidia_smi(fixture(name))
    assert not report.gpus and report.error


def test_rocminfo_full_output() -> None:
    gpus = parse_rocminfo(fixture("rocminfo-rx6900xt-rocm571.txt"))
    assert [(g.gfx, g.marketing_name) for g in gpus] == [("gfx1030", "AMD Radeon RX 6900 XT")]


def test_rocminfo_igpu_and_two_cards() -> None:
    gpus = parse_rocminfo(fixture("rocminfo-r9700-igpu.txt"))
    assert [g.gfx for g in gpus] == ["gfx1036", "gfx1201", "gfx1201"]


def test_rocminfo_cpu_only() -> None:
    assert parse_rocminfo(fixture("rocminfo-cpu-only.txt")) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("amd-smi-static-mi325x.txt", [("gfx942", "AMD Instinct Mi325X VF")]),
        ("amd-smi-static-w7500.txt", [("gfx1102", "Navi 33 [Radeon Pro W7500]")]),
        ("amd-smi-static-strix-igpu.txt", [("gfx1150", "AMD Radeon Graphics")]),
    ],
)
def test_amd_smi_static_parser(name: str, expected: list[tuple[str, str]]) -> None:
    assert [(g.gfx, g.marketing_name) for g in parse_amd_smi_static(fixture(name))] == expected


def test_rocm_smi_productname_parser() -> None:
    gpus = parse_rocm_smi_productname(fixture("rocm-smi-productname-rx9070xt.txt"))
    assert [(g.gfx, g.marketing_name) for g in gpus] == [("gfx1201", "AMD Radeon RX 9070 XT")]


def test_mi325x_is_supported_by_rocm_7_and_w7500_gets_override_hint() -> None:
    ok = {"kfd": True, "render_nodes": ["/dev/dri/renderD128"], "is_root": True}
    mi = doctor.evaluate(
        facts(amd=parse_amd_smi_static(fixture("amd-smi-static-mi325x.txt")), **ok), spec("pytorch-rocm"), M
    )
    assert statuses(mi)["gpu0"] == "ok"
    w7500 = doctor.evaluate(
        facts(amd=parse_amd_smi_static(fixture("amd-smi-static-w7500.txt")), **ok), spec("pytorch-rocm"), M
    )
    hint = next(c for c in w7500 if c.name == "gpu0")
    assert hint.status == "warn" and hint.fix and "11.0.0" in hint.fix


def test_proc_parsers() -> None:
    cpu = parse_cpuinfo(
        "processor : 0\nmodel name : X\nflags : fpu avx avx2\n"
        "processor : 1\nmodel name : X\nflags : fpu avx avx2\n"
    )
    assert cpu.cores == 2 and cpu.avx2 and not cpu.avx512
    assert parse_meminfo("MemTotal:       24576000 kB\n") == 24576000 * 1024


def facts(**over: object) -> HostFacts:
    base: dict[str, object] = {
        "docker": DockerFacts(True, "unix:///var/run/docker.sock", version="27.0", runtimes=("runc",)),
        "nvidia": None,
        "amd": None,
        "kfd": False,
        "render_nodes": [],
        "groups": set(),
        "is_root": False,
        "cpu": CpuInfo("EPYC", 16, frozenset({"avx", "avx2"})),
        "memory_bytes": 64 * 2**30,
        "disk_free_bytes": 200 * 2**30,
        "disk_path": "/var/lib/docker",
    }
    base.update(over)
    return HostFacts(**base)  # type: ignore[arg-type]


def spec(name: str):  # type: ignore[no-untyped-def]
    return resolve(load_profile(name)[0])


def statuses(checks: list[doctor.Check]) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def test_cpu_profile_ready_without_gpu() -> None:
    checks = doctor.evaluate(facts(), spec("pytorch-cpu"), M)
    assert "fail" not in statuses(checks).values()


def test_cuda_profile_without_driver_fails_naming_driver() -> None:
    checks = doctor.evaluate(facts(), spec("pytorch-cuda"), M)
    failed = [c for c in checks if c.status == "fail"]
    assert failed and failed[0].name == "nvidia-driver" and "NVIDIA driver" in failed[0].detail


def test_cuda_profile_with_failed_nvidia_smi() -> None:
    report = parse_nvidia_smi(fixture("nvidia-smi-failed.txt"))
    checks = doctor.evaluate(facts(nvidia=report), spec("pytorch-cuda"), M)
    assert statuses(checks)["nvidia-driver"] == "fail"


def test_h100_with_580_runs_cuda_13_through_minor_version_compatibility() -> None:
    report = parse_nvidia_smi(fixture("nvidia-h100-580.csv"))
    checks = doctor.evaluate(facts(nvidia=report), spec("pytorch-cuda"), M)
    s = statuses(checks)
    # 580.82.07 < 580.95.05 (CUDA 13.0 Update 2) but >= 580.65.06 (the CUDA 13 family minimum)
    assert s["nvidia-driver"] == "warn" and s["gpu0"] == "ok"
    assert s["nvidia-runtime"] == "warn"
    assert "fail" not in s.values()


def test_a100_with_newer_driver_and_runtime_is_ready() -> None:
    report = parse_nvidia_smi(fixture("nvidia-4xa100-580.csv"))
    docker = DockerFacts(True, "unix:///var/run/docker.sock", version="27.0", runtimes=("nvidia", "runc"))
    checks = doctor.evaluate(facts(nvidia=report, docker=docker), spec("workstation-cuda"), M)
    assert set(statuses(checks).values()) <= {"ok", "advice"}
    assert [c.name for c in checks if c.name.startswith("gpu")] == ["gpu0", "gpu1", "gpu2", "gpu3"]


def test_driver_too_old_suggests_a_cuda_that_fits() -> None:
    report = parse_nvidia_smi(fixture("nvidia-rtx3080-535.csv"))
    checks = doctor.evaluate(facts(nvidia=report), spec("pytorch-cuda"), M)
    driver = next(c for c in checks if c.name == "nvidia-driver")
    assert driver.status == "fail" and "535.129.03" in driver.detail
    fitting = max(
        (c for c in M.cuda if Version(c.driver) <= Version("535.129.03")), key=lambda c: Version(c.version)
    )
    assert driver.fix and f'cuda: "{fitting.version}"' in driver.fix


def test_pascal_gpu_is_too_old_for_cuda_13_wheels() -> None:
    report = parse_nvidia_smi(fixture("nvidia-p100-580.csv"))
    checks = doctor.evaluate(facts(nvidia=report), spec("pytorch-cuda"), M)
    gpu = next(c for c in checks if c.name == "gpu0")
    assert gpu.status == "fail" and "sm >= 7.5" in gpu.detail


def test_rocm_supported_target() -> None:
    gpus = parse_rocminfo(fixture("rocminfo-rx6900xt-rocm571.txt"))
    checks = doctor.evaluate(
        facts(amd=gpus, kfd=True, render_nodes=["/dev/dri/renderD128"], groups={"video", "render"}),
        spec("pytorch-rocm"),
        M,
    )
    assert "fail" not in statuses(checks).values()
    assert statuses(checks)["gpu0"] == "ok"


def test_rocm_igpu_gets_hsa_override_hint_and_missing_groups_fail() -> None:
    gpus = parse_rocminfo(fixture("rocminfo-r9700-igpu.txt"))
    checks = doctor.evaluate(
        facts(amd=gpus, kfd=True, render_nodes=["/dev/dri/renderD128"]), spec("pytorch-rocm"), M
    )
    igpu = next(c for c in checks if c.name == "gpu0")
    assert igpu.status == "warn" and igpu.fix and "HSA_OVERRIDE_GFX_VERSION=10.3.0" in igpu.fix
    assert statuses(checks)["gpu1"] == "ok"  # gfx1201 is on ROCm 7.x's list
    assert statuses(checks)["amd-groups"] == "fail"


def test_rocm_without_kfd_fails() -> None:
    checks = doctor.evaluate(facts(), spec("pytorch-rocm"), M)
    assert statuses(checks)["amd-kfd"] == "fail" and statuses(checks)["amd-render"] == "fail"


def test_tensorflow_needs_avx() -> None:
    checks = doctor.evaluate(facts(cpu=CpuInfo("old", 4, frozenset({"sse4_2"}))), spec("tensorflow-cpu"), M)
    assert statuses(checks)["cpu-avx"] == "fail"


def test_unreachable_engine_fails() -> None:
    checks = doctor.evaluate(
        facts(docker=DockerFacts(False, "unix:///x", error="refused")), spec("pytorch-cpu"), M
    )
    assert statuses(checks)["docker"] == "fail"


def test_seed_recommendations_are_advice_not_failures() -> None:
    checks = doctor.evaluate(
        facts(cpu=CpuInfo("small", 2, frozenset({"avx"})), memory_bytes=8 * 2**30), spec("pytorch-cpu"), M
    )
    s = statuses(checks)
    assert s["cpu-cores"] == "advice" and s["memory"] == "advice"
    assert "fail" not in s.values()


def test_suggest_cuda_for_h100_and_cpu_without_gpu() -> None:
    h100 = doctor.suggest_profile(facts(nvidia=parse_nvidia_smi(fixture("nvidia-h100-580.csv"))), M)
    # conservative: the newest toolkit whose own driver minimum the host meets
    assert h100["accelerator"] == "cuda" and h100["cuda"] == "12.9"
    p100 = doctor.suggest_profile(facts(nvidia=parse_nvidia_smi(fixture("nvidia-p100-580.csv"))), M)
    assert p100["accelerator"] == "cuda" and p100["cuda"].startswith("12.")
    amd = doctor.suggest_profile(facts(amd=parse_rocminfo(fixture("rocminfo-rx6900xt-rocm571.txt"))), M)
    assert amd["accelerator"] == "rocm"
    cpu = doctor.suggest_profile(facts(), M)
    assert cpu["accelerator"] == "cpu"
    for suggestion in (h100, p100, amd, cpu):
        import yaml

        resolve(parse_profile(yaml.safe_dump(suggestion)))  # every suggestion resolves


def _with_gpus(text: str) -> BuildSpec:
    return resolve(parse_profile("name: t\naccelerator: cuda\n" + text))


def test_rtx_5090_has_no_kernels_in_a_cuda_12_6_torch_and_runs_a_cuda_13_one() -> None:
    report = parse_nvidia_smi(fixture("nvidia-rtx5090-596.csv"))
    assert report.gpus[0].compute_cap == "12.0" and report.driver == "596.49"
    old = doctor.evaluate(facts(nvidia=report), _with_gpus('cuda: "12.6"\nframeworks: {pytorch: "2.13"}'), M)
    kernels = next(c for c in old if c.name == "gpu0-kernels")
    assert kernels.status == "fail" and "no kernels in the image's pytorch" in kernels.detail
    assert "sm_120" in kernels.detail and kernels.fix and "gpus: [rtx-5090]" in kernels.fix
    new = doctor.evaluate(facts(nvidia=report), spec("pytorch-cuda"), M)
    assert "gpu0-kernels" not in statuses(new) and statuses(new)["gpu0"] == "ok"


def test_pascal_card_runs_the_cuda_12_6_torch_not_the_cuda_13_one() -> None:
    report = parse_nvidia_smi(fixture("nvidia-p100-580.csv"))
    old = doctor.evaluate(facts(nvidia=report), _with_gpus('cuda: "12.6"\nframeworks: {pytorch: "2.13"}'), M)
    assert statuses(old)["gpu0"] == "ok" and "gpu0-kernels" not in statuses(old)
    new = doctor.evaluate(facts(nvidia=report), spec("pytorch-cuda"), M)
    assert statuses(new)["gpu0"] == "fail"  # CUDA 13 compiles for nothing below sm_75


def test_tensorflow_runs_blackwell_only_through_ptx() -> None:
    report = parse_nvidia_smi(fixture("nvidia-rtx5090-596.csv"))
    checks = doctor.evaluate(facts(nvidia=report), spec("tensorflow-cuda"), M)
    kernels = next(c for c in checks if c.name == "gpu0-kernels")
    assert kernels.status == "warn" and "through PTX" in kernels.detail


def test_suggest_names_the_hosts_gpus() -> None:
    import yaml

    rtx = doctor.checked_suggestion(facts(nvidia=parse_nvidia_smi(fixture("nvidia-rtx5090-596.csv"))), M)
    assert rtx["gpus"] == ["rtx-5090"] and rtx["accelerator"] == "cuda"
    spec_ = resolve(parse_profile(yaml.safe_dump(rtx)))
    assert "12.0" in spec_.gpu_architectures["pytorch"]["sass"]
    a100 = doctor.suggest_profile(facts(nvidia=parse_nvidia_smi(fixture("nvidia-4xa100-580.csv"))), M)
    assert a100["gpus"] == ["a100"]


@pytest.mark.parametrize(
    ("fixture_name", "gpu"), [("nvidia-gh200-580.csv", "gh200"), ("nvidia-gb10-580.csv", "gb10")]
)
def test_arm64_gpu_hosts_get_an_arm64_cuda_profile_that_resolves(fixture_name: str, gpu: str) -> None:
    host = facts(nvidia=parse_nvidia_smi(fixture(fixture_name)), machine="aarch64", binfmt_arm64=False)
    suggestion = doctor.checked_suggestion(host, M)
    assert suggestion["platform"] == "linux/arm64" and suggestion["accelerator"] == "cuda"
    assert suggestion["gpus"] == [gpu]
    built = resolve(parse_profile(yaml.safe_dump(suggestion)))
    assert built.platform == "linux/arm64" and built.framework("pytorch") is not None
    checks = {c.name: c for c in doctor.evaluate(host, built, M)}
    assert checks["platform"].status == "info" and "linux/arm64" in checks["platform"].detail


def test_arm64_images_on_an_amd64_host_need_emulation() -> None:
    arm = resolve(load_profile("pytorch-cpu-arm64")[0])
    without = {c.name: c for c in doctor.evaluate(facts(binfmt_arm64=False), arm, M)}
    assert without["emulation"].status == "fail" and "setup-emulation.sh" in (without["emulation"].fix or "")
    emulated = {c.name: c for c in doctor.evaluate(facts(binfmt_arm64=True), arm, M)}
    assert "emulation" not in emulated and emulated["platform"].status == "warn"
    on_arm = {c.name: c for c in doctor.evaluate(facts(machine="aarch64"), spec("pytorch-cpu"), M)}
    assert on_arm["platform"].status == "warn" and "--platform linux/arm64" in (on_arm["platform"].fix or "")


def test_no_rocm_suggestion_on_an_arm64_host() -> None:
    host = facts(machine="aarch64", amd=[], kfd=True)
    assert doctor.suggest_profile(host, M)["accelerator"] == "cpu"
