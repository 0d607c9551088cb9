#!/usr/bin/env bash
# Build a Debian bookworm base image from a Debian mirror with debootstrap and import it
# into the local Docker engine, for sites that cannot pull from a container registry.
#
#   scripts/make-base-image.sh [--arch ARCH] [TAG] [MIRROR]
#
# TAG defaults to debian:bookworm-slim, the base the built-in CPU profiles use; the image
# is a minbase debootstrap, the same idea as the official slim image (no docs, no locales).
# ARCH is a Debian architecture, amd64 or arm64; it defaults to arm64 for a TAG under
# arm64v8/ (Docker Hub's per-architecture repository, so that an arm64 image never shadows
# the host's debian:bookworm-slim), amd64 for one under amd64/, else the host's. With
# --arch arm64 and no TAG, TAG is arm64v8/debian:bookworm-slim. An arm64 image on an x86_64
# host is made under QEMU user emulation (scripts/setup-emulation.sh, run here) and carries
# linux/arm64 in its config.
# Idempotent: does nothing when TAG already exists in the engine (for that architecture).
set -euo pipefail

arch=
if [ "${1:-}" = --arch ]; then
  arch=${2:?--arch needs a value: amd64 or arm64}; shift 2
elif [[ "${1:-}" == --arch=* ]]; then
  arch=${1#--arch=}; shift
fi
host_arch=$(dpkg --print-architecture 2>/dev/null || true)
case "${1:-}" in
  arm64v8/*) arch=${arch:-arm64} ;;
  amd64/*) arch=${arch:-amd64} ;;
esac
arch=${arch:-${host_arch:-amd64}}
case "$arch" in
  amd64) platform=linux/amd64 repo=amd64/debian ;;
  arm64) platform=linux/arm64 repo=arm64v8/debian ;;
  *) echo "unsupported architecture $arch (amd64 or arm64)" >&2; exit 2 ;;
esac
[ "$arch" != "$host_arch" ] || repo=debian
tag=${1:-$repo:bookworm-slim}
mirror=${2:-${DEBIAN_MIRROR:-http://deb.debian.org/debian}}

if have=$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$tag" 2>/dev/null); then
  if [ "$have" != "$platform" ]; then
    echo "image $tag exists but is $have, not $platform: remove it (docker rmi $tag) or pick another tag" >&2
    exit 2
  fi
  echo "base image $tag already present" >&2
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 2; }
foreign=
if [ "$arch" != "$host_arch" ]; then
  [ "$arch" = arm64 ] && [ "$host_arch" = amd64 ] \
    || { echo "cannot make an $arch image on an $host_arch host" >&2; exit 2; }
  foreign=1
  "$(dirname "$0")/setup-emulation.sh"
fi

root=$(mktemp -d)
cleanup() {
  # debootstrap mounts /proc and /sys in the target; never let rm cross into a mount.
  grep -o " $root/[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
if [ -z "$foreign" ]; then
  echo "debootstrap bookworm from $mirror into $root ..." >&2
  debootstrap --variant=minbase bookworm "$root" "$mirror" >&2
else
  # First stage natively (download, unpack), second (the maintainer scripts) under QEMU: the
  # F-flag registration runs the arm64 binaries in the chroot with no qemu file inside it.
  echo "debootstrap --arch=$arch bookworm from $mirror into $root (second stage emulated) ..." >&2
  debootstrap --arch="$arch" --foreign --variant=minbase bookworm "$root" "$mirror" >&2
  chroot "$root" /debootstrap/debootstrap --second-stage >&2
fi
# Trim what a container never needs, as the official slim images do.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
       "$root"/usr/share/locale/*
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" > "$root/etc/apt/sources.list"
if [ -z "$foreign" ]; then
  tar -C "$root" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV LANG=C.UTF-8' \
    --message "debootstrap --variant=minbase bookworm ($mirror)" \
    - "$tag" >&2
else
  # docker import on engine 20.10 records the daemon's own architecture whatever --platform
  # says; a classic-builder build FROM scratch with --platform records the one asked for.
  ctx=$(mktemp -d)
  trap 'cleanup; rm -rf "$ctx"' EXIT
  tar -C "$root" -cf "$ctx/rootfs.tar" .
  rm -rf --one-file-system "$root"
  cat > "$ctx/Dockerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV LANG=C.UTF-8
LABEL org.opencontainers.image.description="debootstrap --arch=$arch --variant=minbase bookworm ($mirror)"
CMD ["bash"]
EOF
  log=$ctx/build.log
  docker build --platform "$platform" -t "$tag" "$ctx" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  have=$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$tag")
  [ "$have" = "$platform" ] || { echo "built $tag as $have, not $platform" >&2; exit 1; }
fi
echo "$tag"
