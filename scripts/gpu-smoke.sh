#!/usr/bin/env bash
# The GPU run of a dlenv profile, on a machine with an NVIDIA GPU and no Docker (docs/gpu-run.md):
# install the image's frameworks natively (the same requirement lines and package sources as the
# rendered Dockerfile, or exactly its lock), set the environment the image sets, then run the
# smoke scripts the image bakes in: the CUDA readiness check with --expect-gpu, an LSTM, a LeNet-5
# and the perf check (bf16 matrix product, device copy) held to a fraction of the GPU's peak.
# Every JSON line, the host's nvidia-smi -q, pip freeze and timings go to an output folder.
#
#   scripts/gpu-smoke.sh [PROFILE] [options]        PROFILE: built-in name or YAML path
#                                                   (default pytorch-cuda-debian)
#   scripts/gpu-smoke.sh --cpu-dry-run [PROFILE]    the same steps without a GPU (CI)
#
# Exit codes (dlenv's): 0 ok, 2 invalid input, 4 install failed, 5 a check failed (readiness,
# training, perf floor, no GPU, driver too old), 130 interrupted.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELPER="$REPO/scripts/gpu_smoke.py"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/dlenv/gpu-smoke"

usage() {
  cat <<'EOF'
usage: scripts/gpu-smoke.sh [PROFILE] [options]

PROFILE                  a built-in profile (dlenv profiles) or a YAML file; default pytorch-cuda-debian
--cpu-dry-run            no GPU needed: readiness without --expect-gpu, training on the CPU (--allow-cpu)
--locked                 install exactly the lock (hash-checked, no resolution), as dlenv build --locked
--lock FILE              the lock file (default: PROFILE.dlenv.lock in the current folder)
--out DIR                output folder (default ./gpu-smoke-out/PROFILE)
--work DIR               venv and smoke scripts, recreated each run (default ~/.cache/dlenv/gpu-smoke/PROFILE)
--python VERSION         the venv's Python (default: the image's, e.g. 3.11; uv fetches it if missing)
--installer uv|pip       default uv (pip when no uv can be found)
--pip-from-host          use this host's pip index, find-links and CA, as dlenv build --pip-from-host
--min-peak-fraction F    perf floor as a fraction of the GPU's published peak (default: the
                         profile's, else 0.3; 0: none)
--min-tflops X           absolute perf floors, passed to the smoke script
--min-copy-gbps X
--steps N                training steps (default: the profile's, 200)
--models LIST            default lstm,lenet,perf
--frameworks LIST        default: the profile's
--plan-only              write the plan (requirements, sources, environment) into the output folder,
                         print it and stop: nothing is installed
--keep-env               run the checks with this shell's environment plus the image's
                         (default: the image's environment only, as in a container)
-h, --help
EOF
}

log() { printf 'gpu-smoke: %s\n' "$*" >&2; }
die() {
  local code=$1
  shift
  log "error: $*"
  exit "$code"
}
trap 'log "interrupted"; exit 130' INT TERM

profile="" dry_run="" locked="" lock_file="" out="" work="" python="" installer="" pip_from_host=""
peak="" tflops="" gbps="" steps="" models="" frameworks="" keep_env="" plan_only=""
while [ $# -gt 0 ]; do
  arg=$1
  shift
  value=""
  case $arg in
    --*=*) value=${arg#*=} arg=${arg%%=*} ;;
    --lock | --out | --work | --python | --installer | --min-peak-fraction | --min-tflops | --min-copy-gbps | --steps | --models | --frameworks)
      [ $# -gt 0 ] || { usage >&2; die 2 "$arg needs a value"; }
      value=$1
      shift
      ;;
  esac
  case $arg in
    -h | --help) usage; exit 0 ;;
    --cpu-dry-run) dry_run=1 ;;
    --locked) locked=1 ;;
    --pip-from-host) pip_from_host=1 ;;
    --keep-env) keep_env=1 ;;
    --plan-only) plan_only=1 ;;
    --lock) lock_file=$value ;;
    --out) out=$value ;;
    --work) work=$value ;;
    --python) python=$value ;;
    --installer) installer=$value ;;
    --min-peak-fraction) peak=$value ;;
    --min-tflops) tflops=$value ;;
    --min-copy-gbps) gbps=$value ;;
    --steps) steps=$value ;;
    --models) models=$value ;;
    --frameworks) frameworks=$value ;;
    -*) usage >&2; die 2 "unknown option $arg" ;;
    *)
      [ -z "$profile" ] || die 2 "one profile at a time (got $profile and $arg)"
      profile=$arg
      ;;
  esac
done
profile=${profile:-pytorch-cuda-debian}
case $installer in "" | uv | pip) ;; *) die 2 "--installer: $installer is not uv or pip" ;; esac
case $steps in "" | *[!0-9]* | 0) [ -z "$steps" ] || die 2 "--steps: $steps is not a positive number" ;; esac

now() { local t=$EPOCHREALTIME; printf '%s' "${t/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
start_all=$(now)

# ---- dlenv itself: the checkout's .venv, else a small venv of its dependencies -------------------
dlenv_ok() {
  "$1" -c 'import sys; sys.path.insert(0, sys.argv[1]); import builder.resolve.decide, builder.inputs.prepare, builder.smoke.perf' \
    "$REPO" 2>/dev/null
}
find_uv() {
  local candidate
  for candidate in "${UV:-}" "$(command -v uv || true)" "$REPO/.venv/bin/uv" "$CACHE/dlenv-venv/bin/uv"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}
dlenv_py=""
for candidate in "${DLENV_PYTHON:-}" "$REPO/.venv/bin/python" "$CACHE/dlenv-venv/bin/python"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && dlenv_ok "$candidate"; then
    dlenv_py=$candidate
    break
  fi
done
if [ -z "$dlenv_py" ]; then
  log "setting up dlenv's dependencies in $CACHE/dlenv-venv ..."
  mkdir -p "$CACHE"
  if uv_bin=$(find_uv); then
    "$uv_bin" venv -q --clear --python '>=3.10' "$CACHE/dlenv-venv" >&2
    "$uv_bin" pip install -q --python "$CACHE/dlenv-venv/bin/python" \
      -r "$REPO/pyproject.toml" -c "$REPO/requirements/dev.txt" >&2
  else
    python3 -m venv --clear "$CACHE/dlenv-venv" >&2
    "$CACHE/dlenv-venv/bin/pip" install -q -c "$REPO/requirements/dev.txt" "$REPO" >&2
  fi
  dlenv_py="$CACHE/dlenv-venv/bin/python"
  dlenv_ok "$dlenv_py" || die 2 "cannot import dlenv with $dlenv_py"
fi
if [ "$installer" != pip ]; then
  if uv_bin=$(find_uv); then
    installer=uv
  elif [ "$installer" = uv ]; then
    die 2 "--installer uv: no uv found (set UV=/path/to/uv, or put uv on PATH)"
  else
    log "no uv found: installing with pip"
    installer=pip
  fi
fi

# ---- the plan: what the image installs and sets, from dlenv (scripts/gpu_smoke.py) ---------------
plan_args=()
[ -z "$dry_run" ] || plan_args+=(--cpu-dry-run)
[ -z "$locked" ] || plan_args+=(--locked)
[ -z "$pip_from_host" ] || plan_args+=(--pip-from-host)
for pair in "--lock=$lock_file" "--out=$out" "--work=$work" "--python=$python" "--steps=$steps" \
  "--models=$models" "--frameworks=$frameworks" "--min-peak-fraction=$peak" "--min-tflops=$tflops" \
  "--min-copy-gbps=$gbps"; do
  [ -z "${pair#*=}" ] || plan_args+=("$pair")
done
started=$(now)
rc=0
out=$("$dlenv_py" "$HELPER" plan "$profile" "${plan_args[@]}") || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
PLAN_PROFILE="" PLAN_ACCELERATOR="" PLAN_DEVICE="" PLAN_PYTHON="" PLAN_PYTHON_MINOR=""
PLAN_FRAMEWORKS="" PLAN_MODELS="" PLAN_TIMEOUT="" PLAN_LOCKED="" PLAN_WORK="" PLAN_VENV="" PLAN_SMOKE_DIR="" PLAN_CA=""
# shellcheck source=/dev/null
. "$out/settings.sh"
logs="$out/logs"
printf 'plan\t%s\t0\n' "$(elapsed "$started")" >>"$out/steps.tsv"
mapfile -t sources <"$out/sources.args"
mapfile -t runtime_env <"$out/runtime.env"
steps=$(awk -F= '$1 == "DLENV_SMOKE_STEPS" { print $2 }' "$out/runtime.env")
mode=$([ -n "$dry_run" ] && echo "CPU dry run" || echo "GPU run")
if [ -n "$plan_only" ]; then
  for name in frameworks.txt extras.txt sources.args runtime.env; do
    printf '# %s\n' "$name"
    cat "$out/$name"
  done
  log "plan of the $mode of $PLAN_PROFILE written to $out (nothing installed)"
  exit 0
fi
log "$mode of $PLAN_PROFILE ($PLAN_FRAMEWORKS; $PLAN_ACCELERATOR) -> $out"

# finish [CODE]: judge what ran (results.jsonl, summary.json) and exit with CODE, else the verdict.
finish() {
  printf 'total\t%s\t0\n' "$(elapsed "$start_all")" >>"$out/steps.tsv"
  local code=0
  "$dlenv_py" "$HELPER" judge "$out" || code=$?
  code=${1:-$code}
  log "$([ "$code" -eq 0 ] && echo passed || echo "FAILED (exit $code)"): results in $out ($(elapsed "$start_all") s)"
  exit "$code"
}
# step NAME STDOUT CMD...: run CMD (stdout to STDOUT, stderr to logs/NAME.log), record time and exit code.
step() {
  local name=$1 stdout=$2 started code=0
  shift 2
  started=$(now)
  "$@" >"$stdout" 2>"$logs/$name.log" || code=$?
  printf '%s\t%s\t%s\n' "$name" "$(elapsed "$started")" "$code" >>"$out/steps.tsv"
  if [ "$code" -eq 130 ]; then # Ctrl-C, which the command caught (bash then runs no trap)
    log "interrupted during $name"
    exit 130
  fi
  if [ "$code" -ne 0 ]; then
    log "$name failed (exit $code)$([ -s "$logs/$name.log" ] && echo "; the end of $logs/$name.log:")"
    tail -n 15 "$logs/$name.log" | sed 's/^/    /' >&2
  fi
  return "$code"
}
# What this host received, over its own interfaces (not loopback, bridges or container veths).
bytes_received() {
  local total=0 iface rest rx
  while IFS=: read -r iface rest; do
    iface=${iface// /}
    case $iface in lo | docker* | veth* | br-* | virbr* | cni* | cali* | flannel* | ifb*) continue ;; esac
    read -r rx _ <<<"$rest"
    if [[ $rx =~ ^[0-9]+$ ]]; then total=$((total + rx)); fi
  done < <(tail -n +3 /proc/net/dev 2>/dev/null)
  echo "$total"
}
size_of() { if [ -e "$1" ]; then du -sb "$1" 2>/dev/null | cut -f1; else echo 0; fi; }

# ---- the host: GPU, driver, what ran where ---------------------------------------------------
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -srm)"
  echo "os: $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"')"
  echo "cpus: $(nproc)"
  echo "dlenv: $(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo '?')$(git -C "$REPO" status --porcelain 2>/dev/null | grep -q . && echo ' (with local changes)')"
  echo "installer: $installer$([ "$installer" != uv ] || echo " ($("$uv_bin" --version))")"
  echo "mode: $mode"
} >"$out/host.txt"
smi=${NVIDIA_SMI:-nvidia-smi} # the nvidia-smi to ask (tests give a stand-in)
gpus="none"
if command -v "$smi" >/dev/null; then
  "$smi" -q >"$out/nvidia-smi.txt" 2>&1 || true
  "$smi" --query-gpu=name,driver_version,memory.total,compute_cap --format=csv >"$out/nvidia-smi.csv" 2>&1 || true
  gpus=$(tail -n +2 "$out/nvidia-smi.csv" | paste -sd ';' -)
else
  echo "nvidia-smi: not found on this host" >"$out/nvidia-smi.txt"
fi
echo "gpus: ${gpus:-none}" >>"$out/host.txt"
if [ -z "$dry_run" ]; then # dlenv doctor's driver, compute capability and kernel checks
  started=$(now)
  rc=0
  "$dlenv_py" "$HELPER" preflight "$out" || rc=$?
  printf 'gpu-preflight\t%s\t%s\n' "$(elapsed "$started")" "$rc" >>"$out/steps.tsv"
  [ "$rc" -eq 0 ] || finish 5
fi

# ---- the venv: the image's Python, the image's requirement lines ---------------------------------
# Only the plan's sources count: the caller's pip/uv index settings stay out, as in the image.
clean_sources=(env -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_FIND_LINKS -u PIP_NO_INDEX
  -u UV_INDEX_URL -u UV_EXTRA_INDEX_URL -u UV_FIND_LINKS -u UV_INDEX -u UV_DEFAULT_INDEX -u UV_NO_INDEX
  PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1)
[ -z "$PLAN_CA" ] || clean_sources+=("SSL_CERT_FILE=$PLAN_CA" "PIP_CERT=$PLAN_CA")
vpy="$PLAN_VENV/bin/python"
minor_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
base_py=""
if [ "$installer" = uv ]; then
  # A Python of the image's version: this host's, else one uv has or fetches (python-build-standalone).
  base_py=$("$uv_bin" python find --system "$PLAN_PYTHON" 2>/dev/null) || base_py=""
  if [ -z "$base_py" ]; then
    log "fetching Python $PLAN_PYTHON with uv ..."
    "$uv_bin" python install "$PLAN_PYTHON" >&2 || true
    base_py=$("$uv_bin" python find --system "$PLAN_PYTHON" 2>/dev/null) || base_py=""
  fi
  install=("${clean_sources[@]}" "$uv_bin" pip install --python "$vpy" --no-config --index-strategy unsafe-best-match)
else
  for candidate in "python$PLAN_PYTHON" "python$PLAN_PYTHON_MINOR" python3; do
    if command -v "$candidate" >/dev/null && [ "$(minor_of "$candidate")" = "$PLAN_PYTHON_MINOR" ]; then
      base_py=$(command -v "$candidate")
      break
    fi
  done
  install=("${clean_sources[@]}" "$vpy" -m pip install)
fi
if [ -z "$base_py" ]; then
  log "error: no Python $PLAN_PYTHON here ($installer); install one, or use uv (it fetches one)"
  printf 'venv\t0\t1\n' >>"$out/steps.tsv"
  finish 4
fi
# A venv with pip and nothing else, as the image's python3 -m venv (readiness runs pip check).
# shellcheck disable=SC2329  # called through step
make_venv() {
  if [ "$installer" = uv ]; then
    "$uv_bin" venv --clear --python "$base_py" "$PLAN_VENV" && "${install[@]}" "${sources[@]}" pip
  elif "$base_py" -c 'import ensurepip, venv' 2>/dev/null; then
    "$base_py" -m venv --clear "$PLAN_VENV"
  else
    echo "$base_py has no ensurepip (Debian: apt-get install python3-venv)" >&2
    return 1
  fi
}
locked_flags=()
[ -z "$PLAN_LOCKED" ] || locked_flags=(--no-deps --require-hashes --only-binary :all:)
mkdir -p "$PLAN_WORK"
log "creating $PLAN_VENV ($base_py, $installer) ..."
step venv "$logs/venv.out" make_venv || finish 4
have=$(minor_of "$vpy")
if [ "$have" != "$PLAN_PYTHON_MINOR" ]; then
  log "error: the venv has Python $have, the plan asks for $PLAN_PYTHON_MINOR"
  finish 4
fi
echo "venv python: $("$vpy" -c 'import sys; print(sys.version.split()[0], sys.executable)')" >>"$out/host.txt"

rx_before=$(bytes_received)
log "installing $(grep -c . "$out/frameworks.txt") requirement lines: $(sed 's/ --hash=[^ ]*//g' "$out/frameworks.txt" | paste -sd ' ' - | cut -c1-120) ..."
step install "$logs/install.out" "${install[@]}" "${sources[@]}" "${locked_flags[@]}" -r "$out/frameworks.txt" || finish 4
if [ -n "$PLAN_LOCKED" ]; then
  step check-installed "$logs/check-installed.out" "$vpy" "$PLAN_SMOKE_DIR/check_installed.py" "$out/frameworks.txt" || finish 4
fi
if grep -q . "$out/extras.txt"; then
  log "installing the profile's extra packages ..."
  if [ -n "$PLAN_LOCKED" ]; then
    step install-extras "$logs/install-extras.out" "${install[@]}" "${sources[@]}" "${locked_flags[@]}" -r "$out/extras.txt" || finish 4
    step check-installed-extras "$logs/check-installed.out" "$vpy" "$PLAN_SMOKE_DIR/check_installed.py" "$out/frameworks.txt" "$out/extras.txt" || finish 4
  else # as the image: the extras constrained to the frameworks' versions
    "$vpy" -m pip freeze --all >"$out/constraints.txt"
    step install-extras "$logs/install-extras.out" "${install[@]}" "${sources[@]}" -c "$out/constraints.txt" -r "$out/extras.txt" || finish 4
  fi
fi
rx_after=$(bytes_received)
"$vpy" -m pip freeze --all >"$out/pip-freeze.txt" 2>"$logs/pip-freeze.log" || true
wheels=$("$dlenv_py" "$HELPER" wheel-bytes "$out" --python-version "$("$vpy" -c 'import platform; print(platform.python_version())')" 2>>"$logs/pip-freeze.log") || wheels=""
{
  printf 'wheel_bytes\t%s\t(the installed packages'"'"' wheels on the index: what a cold install downloads)\n' "${wheels:-unknown}"
  printf 'received_bytes\t%s\t(all this host received during the install: the downloads, and any other traffic)\n' "$((rx_after - rx_before))"
  printf 'venv_bytes\t%s\t%s\n' "$(size_of "$PLAN_VENV")" "$PLAN_VENV"
} >"$out/sizes.tsv"
log "installed: $(awk -F'\t' '$2 ~ /^[0-9]+$/ { printf "%s%s %.2f GB", sep, $1, $2 / 1e9; sep = ", " }' "$out/sizes.tsv")"

# ---- the checks: the image's scripts, in the image's environment ---------------------------------
if [ -n "$keep_env" ]; then envrun=(env "${runtime_env[@]}"); else envrun=(env -i "${runtime_env[@]}"); fi
# --foreground: Ctrl-C reaches the check (timeout would put it in a process group of its own).
checks=("${envrun[@]}" timeout --foreground --kill-after 30 "$PLAN_TIMEOUT" "$vpy")
cd "$PLAN_WORK"
if [ "$PLAN_ACCELERATOR" = cuda ]; then
  expect=(--expect-gpu)
  [ -z "$dry_run" ] || expect=()
  log "CUDA readiness check${expect[*]:+ (${expect[*]})} ..."
  step readiness "$out/readiness.jsonl" "${checks[@]}" "$PLAN_SMOKE_DIR/readiness.py" \
    --framework "$PLAN_FRAMEWORKS" "${expect[@]}" || true
fi
allow=()
[ -z "$dry_run" ] || [ "$PLAN_DEVICE" = cpu ] || allow=(--allow-cpu)
log "smoke test: $PLAN_MODELS on $PLAN_DEVICE${allow[*]:+ (${allow[*]})}, $steps steps ..."
step smoke "$out/smoke.jsonl" "${checks[@]}" "$PLAN_SMOKE_DIR/smoke.py" --framework "$PLAN_FRAMEWORKS" \
  --device "$PLAN_DEVICE" --model "$PLAN_MODELS" --steps "$steps" "${allow[@]}" || true
finish
