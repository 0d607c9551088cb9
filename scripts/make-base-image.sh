#!/usr/bin/env bash
# Build a Debian bookworm base image from a Debian mirror with debootstrap and import it
# into the local Docker engine, for sites that cannot pull from a container registry.
#
#   scripts/make-base-image.sh [TAG] [MIRROR]
#
# TAG defaults to debian:bookworm-slim, the base the built-in CPU profiles use; the image
# is a minbase debootstrap, the same idea as the official slim image (no docs, no locales).
# Idempotent: does nothing when TAG already exists in the engine.
set -euo pipefail

tag=${1:-debian:bookworm-slim}
mirror=${2:-${DEBIAN_MIRROR:-http://deb.debian.org/debian}}

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present" >&2
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 2; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm from $mirror into $root ..." >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >&2
# Trim what a container never needs, as the official slim images do.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
       "$root"/usr/share/locale/*
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" > "$root/etc/apt/sources.list"
tar -C "$root" -c . | docker import \
  --change 'CMD ["bash"]' \
  --change 'ENV LANG=C.UTF-8' \
  --message "debootstrap --variant=minbase bookworm ($mirror)" \
  - "$tag" >&2
echo "$tag"
