#!/usr/bin/env bash
# The main job: set up the host, build the default image (pytorch-cpu) and prove it by
# training an LSTM and a LeNet-5 inside it. Needs no `make`.
set -euo pipefail
cd "$(dirname "$0")/.."
DLENV_SKIP_ARM64=1 scripts/setup-host.sh  # the default image is amd64: no emulation needed
exec .venv/bin/dlenv build pytorch-cpu --pip-from-host --smoke "$@"
