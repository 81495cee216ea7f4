#!/usr/bin/env bash
# Makes a Debian base image with debootstrap from the Debian mirror apt already uses,
# and imports it into krat:
#
#   scripts/debian-image.sh                  -> debian:bookworm (and debian:12)
#   scripts/debian-image.sh --with-python    -> also python:3-bookworm (python, pip, venv)
#   scripts/debian-image.sh --python-only    -> python:3-bookworm alone
#
# Options: --suite SUITE (default bookworm), --mirror URL (default: from apt's sources),
# --keep DIR (leave the root filesystem there). Needs root (debootstrap); downloads ~100 MB
# (about a minute with a fast mirror).
# krat's own global flags come from the environment: KRAT_ROOT, KRAT_RUNROOT.
set -euo pipefail
cd "$(dirname "$0")/.."

suite=bookworm
mirror=${DEBIAN_MIRROR:-}
with_python=0
plain=1
keep=
while [ $# -gt 0 ]; do
  case "$1" in
    --with-python) with_python=1 ;;
    --python-only) with_python=1; plain=0 ;;
    --suite) suite=$2; shift ;;
    --mirror) mirror=$2; shift ;;
    --keep) keep=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "debian-image: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

[ "$(id -u)" -eq 0 ] || { echo "debian-image: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debian-image: install debootstrap (scripts/setup.sh)" >&2; exit 1; }

# The mirror apt is configured with (deb822 .sources first, then one-line sources.list).
if [ -z "$mirror" ]; then
  mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
           | grep -v -- '-security' | head -n1 || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
           | awk '{print ($2 ~ /^\[/) ? $3 : $2}' | grep -v -- '-security' | head -n1 || true)
fi
[ -n "$mirror" ] || { echo "debian-image: no Debian mirror in apt's sources; pass --mirror URL" >&2; exit 1; }

if [ -x .venv/bin/krat ]; then KRAT=(.venv/bin/krat); else KRAT=(krat); fi

work=$(mktemp -d /tmp/krat-debian-XXXXXX)
cleanup() {
  # debootstrap mounts proc/sys inside the target; never leave them behind
  for m in $(awk -v p="$work/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" || true; done
  if [ -z "$keep" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

build() {  # build ROOTFS EXTRA_PACKAGES
  local rootfs=$1 include=$2
  echo "debian-image: debootstrap $suite from $mirror${include:+ (+ $include)}" >&2
  mkdir -p "$work/debs"  # shared by both builds: each package is downloaded once
  debootstrap --variant=minbase --cache-dir="$work/debs" ${include:+--include="$include"} \
    "$suite" "$rootfs" "$mirror" >&2
  # what a container image needs no copy of: apt lists, caches, logs, device nodes
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
         "$rootfs"/var/log/*.log "$rootfs"/dev/* "$rootfs"/tmp/* "$rootfs"/run/*
}

import() {  # import ROOTFS REF CMD
  local rootfs=$1 ref=$2 cmd=$3
  tar --numeric-owner --xattrs --xattrs-include='security.capability' -C "$rootfs" -cf - . \
    | "${KRAT[@]}" import \
        --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --change "CMD $cmd" -m "debootstrap $suite" - "$ref"
}

if [ "$plain" -eq 1 ]; then
  rootfs=${keep:-$work/rootfs}
  build "$rootfs" ""
  id=$(import "$rootfs" "debian:$suite" '["bash"]')
  "${KRAT[@]}" tag "$id" "debian:$(cut -d. -f1 < "$rootfs/etc/debian_version")" 2>/dev/null || true
  echo "debian:$suite $id"
fi

if [ "$with_python" -eq 1 ]; then
  prootfs="$work/python-rootfs"
  build "$prootfs" "python3,python3-pip,python3-venv,python-is-python3,ca-certificates"
  # An image is its own environment (as the official python images): let `pip install`
  # write to it without --break-system-packages.
  rm -f "$prootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  id=$(import "$prootfs" "python:3-$suite" '["python3"]')
  echo "python:3-$suite $id"
fi
