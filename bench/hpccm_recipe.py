# An hpccm recipe comparable to `dlenv render pytorch-cuda`: the same base, OS packages, venv,
# framework install, environment, label and user. hpccm executes it as Python (Stage0 and the
# building blocks are its globals), so there are no imports here; bench_cli.py runs
# `hpccm --recipe bench/hpccm_recipe.py --format docker` beside dlenv.
# ruff: noqa: F821
Stage0 += baseimage(image="nvidia/cuda:13.2.1-base-ubuntu24.04", _as="system")
Stage0 += apt_get(ospackages=["ca-certificates", "python3", "python3-venv"])
Stage0 += shell(
    commands=[
        "python3 -m venv /opt/venv",
        "/opt/venv/bin/pip install --no-cache-dir --extra-index-url "
        "https://download.pytorch.org/whl/cu132 torch==2.13.0+cu132 numpy",
    ]
)
Stage0 += environment(variables={"PATH": "/opt/venv/bin:$PATH", "NVIDIA_VISIBLE_DEVICES": "all"})
Stage0 += label(metadata={"io.dlenv.profile": "pytorch-cuda"})
Stage0 += user(user="1000")
