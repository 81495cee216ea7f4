#!/usr/bin/env bash
# Prepares what the demo needs from the network, once, in a cache outside the repository
# ($KRAT_TEST_CACHE, default /var/cache/krat-test), so that the demo's test
# (tests/integration/demo) runs offline:
#
#   python-3-bookworm.tar   python:3-bookworm as `krat save` writes it, made by
#                           scripts/debian-image.sh (debootstrap from Debian's mirror;
#                           ~50 MB download, about a minute with a fast mirror)
#   seed-app-wheels/        wheels for examples/seed-app/requirements.txt that fit that
#                           image's Python (CPython 3.11, glibc 2.36, x86_64), from PyPI
#
# Each asset has a stamp (its inputs' hash and its checksums), written last: an asset is
# reused while its stamp matches, rebuilt when its inputs changed or it is damaged, and an
# interrupted run leaves nothing that passes for complete. Run by scripts/setup.sh.
#
#   scripts/demo-assets.sh           prepare what is missing (root, network the first time)
#   scripts/demo-assets.sh --check   exit 0 if the cache is complete, else say what is missing
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${KRAT_TEST_CACHE:-/var/cache/krat-test}
check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
  *) echo "demo-assets: unknown argument $1" >&2; exit 2 ;;
esac

image=$cache/python-3-bookworm.tar
wheels=$cache/seed-app-wheels
requirements=examples/seed-app/requirements.txt
# The image's interpreter, as pip names it: bookworm's python3 is 3.11 and its glibc 2.36,
# so any manylinux level up to 2_36 fits. pip takes the levels one by one (it widens only
# manylinux2014 to the older legacy tags).
PY_VERSION=3.11
PY_ABI=cp311
PY_PLATFORMS=(manylinux2014_x86_64)
for minor in $(seq 17 36); do PY_PLATFORMS+=("manylinux_2_${minor}_x86_64"); done

# Inputs of each asset: a change here means the cached one no longer fits.
image_key=$(cat scripts/debian-image.sh | sha256sum | cut -d' ' -f1)
wheels_key=$( { cat "$requirements"; echo "$PY_VERSION $PY_ABI ${PY_PLATFORMS[*]}"; } | sha256sum | cut -d' ' -f1)

image_ok() {  # stamp: key / "size mtime" / sha256; size and mtime unchanged spare the hash
  local stamp=$image.stamp
  [ -f "$image" ] && [ -f "$stamp" ] || return 1
  [ "$(sed -n 1p "$stamp")" = "$image_key" ] || return 1
  [ "$(sed -n 2p "$stamp")" = "$(stat -c '%s %Y' "$image")" ] && return 0
  [ "$(sed -n 3p "$stamp")" = "$(sha256sum < "$image" | cut -d' ' -f1)" ]
}

wheels_ok() {  # stamp: key, then `sha256sum` lines of the wheels
  local stamp=$wheels.stamp
  [ -d "$wheels" ] && [ -f "$stamp" ] || return 1
  [ "$(sed -n 1p "$stamp")" = "$wheels_key" ] || return 1
  tail -n +2 "$stamp" | grep -q . || return 1
  (cd "$wheels" && tail -n +2 "$stamp" | sha256sum --check --quiet --strict >/dev/null 2>&1)
}

if [ "$check_only" -eq 1 ]; then
  missing=()
  image_ok || missing+=("$image")
  wheels_ok || missing+=("$wheels")
  [ "${#missing[@]}" -eq 0 ] && exit 0
  echo "demo-assets: missing or out of date: ${missing[*]} (run scripts/setup.sh as root)" >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  image_ok && wheels_ok && exit 0
  echo "demo-assets: needs root (debootstrap; writes $cache)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || { echo "demo-assets: no .venv here; run scripts/setup.sh" >&2; exit 1; }
mkdir -p "$cache"

# One preparer at a time: concurrent setups (several checkouts on one machine) wait for it.
exec 9>"$cache/.lock"
if ! flock -n 9; then
  echo "demo-assets: waiting for another setup to finish preparing $cache" >&2
  flock 9
fi

remove_dir() {  # the private krat root only imports and saves, but never delete through a mount
  for m in $(awk -v p="$1/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" || true; done
  rm -rf "$1"
}
tmp=
cleanup() {
  if [ -n "$tmp" ] && [ -d "$tmp" ]; then remove_dir "$tmp"; fi
}
trap cleanup EXIT
# work directories of a run that was killed (we hold the lock: nobody else uses them)
for stale in "$cache"/.image-* "$cache"/.wheels-*; do
  if [ -d "$stale" ]; then remove_dir "$stale"; fi
done

if image_ok; then
  # intact but touched (copied, restored): record its new size and mtime to spare the hash next time
  if [ "$(sed -n 2p "$image.stamp")" != "$(stat -c '%s %Y' "$image")" ]; then
    printf '%s\n%s\n%s\n' "$image_key" "$(stat -c '%s %Y' "$image")" "$(sed -n 3p "$image.stamp")" > "$image.stamp.new"
    mv -f "$image.stamp.new" "$image.stamp"
  fi
else
  echo "demo-assets: making python:3-bookworm into $image (debootstrap, about a minute)" >&2
  start=$SECONDS
  rm -f "$image.stamp"
  tmp=$(mktemp -d "$cache/.image-XXXXXX")
  # a private krat root: the image goes to the cache, not to anyone's store
  if ! KRAT_ROOT=$tmp/root KRAT_RUNROOT=$tmp/run scripts/debian-image.sh --python-only \
       > "$tmp/debian-image.log" 2>&1; then
    tail -n 40 "$tmp/debian-image.log" >&2
    echo "demo-assets: scripts/debian-image.sh failed (its last lines are above)" >&2
    exit 1
  fi
  .venv/bin/krat --root "$tmp/root" --runroot "$tmp/run" save -o "$tmp/image.tar" python:3-bookworm
  sum=$(sha256sum < "$tmp/image.tar" | cut -d' ' -f1)
  mv -f "$tmp/image.tar" "$image"
  printf '%s\n%s\n%s\n' "$image_key" "$(stat -c '%s %Y' "$image")" "$sum" > "$tmp/stamp"
  mv -f "$tmp/stamp" "$image.stamp"
  cleanup; tmp=
  echo "demo-assets: python:3-bookworm ready ($(( SECONDS - start )) s)" >&2
fi

if ! wheels_ok; then
  echo "demo-assets: downloading the wheels of $requirements into $wheels" >&2
  rm -f "$wheels.stamp"
  tmp=$(mktemp -d "$cache/.wheels-XXXXXX")
  if ! .venv/bin/python -m pip download --disable-pip-version-check --quiet --dest "$tmp/wheels" \
       --only-binary=:all: --implementation cp --python-version "$PY_VERSION" --abi "$PY_ABI" \
       "${PY_PLATFORMS[@]/#/--platform=}" --requirement "$requirements" >&2; then
    echo "demo-assets: pip download failed for $requirements (CPython $PY_VERSION, manylinux x86_64)" >&2
    exit 1
  fi
  rm -rf "$wheels"
  mv "$tmp/wheels" "$wheels"
  { echo "$wheels_key"; (cd "$wheels" && sha256sum -- *.whl); } > "$tmp/stamp"
  mv -f "$tmp/stamp" "$wheels.stamp"
  cleanup; tmp=
fi
