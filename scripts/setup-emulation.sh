#!/usr/bin/env bash
# Let this x86_64 host run linux/arm64 containers and builds under QEMU user emulation:
# Debian's qemu-user-static and binfmt-support, binfmt_misc mounted, and the aarch64
# interpreter registered with the F ("fix binary") flag, so that the kernel opens it on the
# host once and containers need no qemu binary of their own. Idempotent; starts no service.
#
#   scripts/setup-emulation.sh        (run as root, or with sudo available)
#
# Exit codes: 0 ready (or the host is aarch64 itself), 1 a command failed (apt-get...),
# 3 the kernel or the privileges here do not allow it.
set -euo pipefail

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
fail() {   # one paragraph on stderr, exit 3
  { echo "setup-emulation: $1"
    echo "arm64 containers need a kernel with binfmt_misc and root (or sudo) on the host itself;" \
         "inside a container, that container must be privileged (or binfmt_misc must be" \
         "registered from the host, e.g. by running this script there)."; } | fmt -w 100 >&2
  exit 3
}

bm=/proc/sys/fs/binfmt_misc
entry=$bm/qemu-aarch64
db=/usr/share/binfmts/qemu-aarch64   # binfmt-support's entry, from qemu-user-static
flags() { sed -n 's/^flags: *//p' "$entry" 2>/dev/null || true; }

# A 132-byte static aarch64 ELF: ELF header, one PT_LOAD program header at 0x400000, then
# mov x0,#42; mov x8,#93 (exit); svc #0. Written as printf escapes.
exit42='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00\x01\x00\x00\x00'
exit42+='\x78\x00\x40\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
exit42+='\x00\x00\x00\x00\x00\x00\x40\x00\x38\x00\x01\x00\x00\x00\x00\x00\x00\x00'
exit42+='\x01\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00'
exit42+='\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x84\x00\x00\x00\x00\x00\x00\x00\x84\x00\x00\x00'
exit42+='\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00'
exit42+='\x40\x05\x80\xd2\xa8\x0b\x80\xd2\x01\x00\x00\xd4'

# The check: run that binary inside an empty chroot, where no interpreter file exists, as in a
# container. Only an F-flag registration runs it there (without F the kernel looks the
# interpreter's path up inside the chroot, and exec fails with ENOENT).
runs_arm64() {
  local dir rc=0
  dir=$(mktemp -d)
  printf '%b' "$exit42" > "$dir/exit42"   # %b decodes the \xHH escapes
  chmod 755 "$dir" "$dir/exit42"
  sudo_ chroot "$dir" /exit42 2>/dev/null || rc=$?
  rm -rf "$dir"
  [ "$rc" -eq 42 ]
}

case "$(uname -m)" in
  aarch64|arm64) echo "host is $(uname -m): arm64 runs natively, nothing to do" >&2; exit 0 ;;
  x86_64) ;;
  *) fail "this script supports x86_64 hosts only, not $(uname -m)." ;;
esac
if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
  fail "not root, and sudo is not available without a password."
fi

# binfmt_misc first, so that the packages' postinst scripts register into a mounted one.
if ! grep -qs " $bm binfmt_misc " /proc/mounts; then
  if ! sudo_ mount -t binfmt_misc binfmt_misc "$bm" 2>/dev/null; then
    # A container may not mount it, yet run arm64 binaries that its host registered with F.
    if runs_arm64; then
      echo "arm64 emulation ready (registered outside; binfmt_misc cannot be mounted here)" >&2
      exit 0
    fi
    fail "cannot mount binfmt_misc on $bm (a kernel without CONFIG_BINFMT_MISC, or no CAP_SYS_ADMIN here)."
  fi
fi

need=()
for p in qemu-user-static binfmt-support; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} ..." >&2
  sudo_ apt-get update -qq
  # policy-rc.d: binfmt-support ships a service; packages must not start services.
  rc_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    sudo_ sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
    rc_policy=/usr/sbin/policy-rc.d
  fi
  log=$(mktemp)
  ok=0
  sudo_ env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >"$log" 2>&1 || ok=$?
  [ -z "$rc_policy" ] || sudo_ rm -f "$rc_policy"
  [ "$ok" -eq 0 ] || cat "$log" >&2
  rm -f "$log"
  [ "$ok" -eq 0 ] || exit 1
fi

# Register qemu-aarch64 with the F flag. Debian's entry says "fix_binary yes", so
# update-binfmts gives F; a registration written by something else (an older package, a
# container image, systemd-binfmt's config) may lack it: then write our own.
if [ ! -e "$entry" ]; then
  sudo_ update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
fi
if [ ! -e "$entry" ] || [[ "$(flags)" != *F* ]] || ! grep -qx enabled "$entry"; then
  field() { sed -n "s/^$1 //p" "$db" 2>/dev/null; }
  interp=$(field interpreter); interp=${interp:-/usr/bin/qemu-aarch64-static}
  [ -x "$interp" ] || fail "the aarch64 interpreter $interp is missing."
  # Magic and mask match the ELF header of an aarch64 executable (e_machine 0xb7).
  magic=$(field magic)
  magic=${magic:-'\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'}
  mask=$(field mask)
  mask=${mask:-'\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'}
  new=F
  [ "$(field preserve)" != yes ] || new=P$new
  [ "$(field credentials)" != yes ] || new=OC$new
  was=$(flags)
  echo "registering qemu-aarch64 with flags $new (was: ${was:-not registered}) ..." >&2
  if [ -e "$entry" ]; then sudo_ sh -c "echo -1 > $entry"; fi
  # binfmt_misc decodes the \xHH escapes itself.
  sudo_ sh -c "printf '%s' ':qemu-aarch64:M::$magic:$mask:$interp:$new' > $bm/register" 2>/dev/null \
    || fail "the kernel refused to register qemu-aarch64 in $bm/register."
fi

runs_arm64 || fail "a static arm64 test binary did not run in an empty chroot (qemu-aarch64 flags: '$(flags)')."
echo "arm64 emulation ready: qemu-aarch64 flags $(flags)" >&2
