"""compose.yaml mirrors the built-in profiles with the right device options."""

from __future__ import annotations

import yaml

from builder.profile.load import builtin_profile_names
from tests.paths import REPO

COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())


def test_one_service_per_builtin_with_existing_dockerfile() -> None:
    assert set(COMPOSE["services"]) == set(builtin_profile_names())
    for service in COMPOSE["services"].values():
        build = service["build"]
        assert (REPO / build["context"] / build["dockerfile"]).is_file()


def test_cuda_services_reserve_nvidia_gpus() -> None:
    devices = COMPOSE["services"]["pytorch-cuda"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]


def test_rocm_services_get_kfd_dri_groups_seccomp() -> None:
    service = COMPOSE["services"]["pytorch-rocm"]
    assert service["devices"] == ["/dev/kfd", "/dev/dri"]
    assert service["group_add"] == ["video", "render"]
    assert service["security_opt"] == ["seccomp=unconfined"]
    assert "deploy" not in service


def test_cpu_services_have_no_devices() -> None:
    service = COMPOSE["services"]["pytorch-cpu"]
    assert "deploy" not in service and "devices" not in service
