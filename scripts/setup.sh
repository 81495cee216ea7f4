#!/usr/bin/env bash
# Installs what krat and its tests need on Debian 12 / Ubuntu 22.04+, then krat itself
# into .venv with a `krat` command on PATH. Safe to re-run: quick when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: the kernel-facing tools krat drives, and the real peers tests compare with.
PACKAGES=(
  python3 python3-venv ca-certificates
  busybox-static tini debootstrap          # offline base images; --init
  iproute2 iptables nftables conntrack     # networks, NAT, published ports (UDP: stale flows)
  uidmap slirp4netns libseccomp2           # rootless; seccomp
  runc docker.io podman skopeo docker-registry   # peers for interop tests
  openssl apache2-utils tmux curl          # test helpers: TLS certs, htpasswd, pty driving
)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]}; run this script as root (sudo) once" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Python: Debian's interpreter (a stable path, not a shim) when it is new enough.
PY=python3
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  PY=/usr/bin/python3
fi
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "setup: krat needs Python >= 3.11" >&2; exit 1; }

stamp=.venv/.krat-installed
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  echo "$want" > "$stamp"
fi

# krat's commands as lean launchers over pip's console scripts: `python -S` with krat's
# path, no `re` (~5 ms less on every command; see scripts/launcher.py).
.venv/bin/python scripts/launcher.py .venv/bin/krat krat.cli.main:cli
.venv/bin/python scripts/launcher.py .venv/bin/krat-runtime krat.runtime.cli:main

# Byte-compile krat now: with PYTHONDONTWRITEBYTECODE set (common in CI images) every
# krat command would otherwise recompile its modules, ~100 ms on each `krat run`.
.venv/bin/python -m compileall -q -j 0 src/krat >/dev/null
# And the launchers' code cache: krat's compiled modules and what they import, in one file
# found without searching sys.path (~3 ms of `krat run`; scripts/launcher.py).
.venv/bin/python scripts/launcher.py --code-cache

if [ "$(id -u)" -eq 0 ]; then
  ln -sf "$PWD/.venv/bin/krat" /usr/local/bin/krat
  ln -sf "$PWD/.venv/bin/krat-runtime" /usr/local/bin/krat-runtime
fi

# The demo's downloads (its base image by debootstrap, its app's wheels), made once into
# /var/cache/krat-test: the demo then skips debootstrap and its test runs offline. About a
# minute the first time, instant later. Needs root; without root only say what is missing.
if [ "$(id -u)" -eq 0 ]; then
  scripts/demo-assets.sh
elif ! scripts/demo-assets.sh --check; then
  echo "setup: run this script as root once to prepare the demo's offline assets" >&2
fi
