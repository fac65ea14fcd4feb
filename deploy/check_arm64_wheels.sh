#!/usr/bin/env bash
# Check, from any machine, that every runtime dependency has a binary wheel for the boards:
# Linux aarch64 (manylinux), CPython 3.11 (Raspberry Pi OS Bookworm's Python). Nothing is
# built or installed: pip downloads the wheels into a temporary folder, this prints them
# and exits non-zero if pip found no usable wheel for one of them (a board would then have
# to compile it, which on a Pi takes hours or fails for want of memory).
#
#   deploy/check_arm64_wheels.sh                 # about 20 MB from PyPI, then deleted
#   deploy/check_arm64_wheels.sh --keep wheels/  # keep them (e.g. for an offline install)
set -euo pipefail

PROG=$(basename "$0")
PYTHON=${PYTHON:-python3}
PY_VERSION=3.11
# The runtime dependencies of pyproject.toml's [project] dependencies, without versions.
PACKAGES=(onnxruntime tokenizers numpy paho-mqtt cryptography)
KEEP=""

usage() {
    cat <<EOF
Usage: $PROG [--keep DIR] [--python-version X.Y] [PACKAGE...]

Download (not install) aarch64 wheels for CPython $PY_VERSION of the runtime dependencies
(default: ${PACKAGES[*]}), print their file names, fail if one has none.

Options:
  --keep DIR            download into DIR and keep the wheels (default: a temp dir, removed)
  --python-version X.Y  target CPython version (default $PY_VERSION)
  -h, --help            show this help
EOF
}
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --keep)
            [ $# -ge 2 ] || die "--keep needs a directory"
            KEEP=$2
            shift 2
            ;;
        --python-version)
            [ $# -ge 2 ] || die "--python-version needs X.Y"
            PY_VERSION=$2
            shift 2
            ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option: $1" ;;
        *) args+=("$1"); shift ;;
    esac
done
[ ${#args[@]} -eq 0 ] || PACKAGES=("${args[@]}")

if [ -n "$KEEP" ]; then
    mkdir -p -- "$KEEP"
    dest=$KEEP
else
    dest=$(mktemp -d)
fi
log=$(mktemp)
trap 'rm -f -- "$log"; [ -n "$KEEP" ] || rm -rf -- "$dest"' EXIT

cp=cp${PY_VERSION/./}
echo "aarch64 wheels for CPython $PY_VERSION: ${PACKAGES[*]}"
# --only-binary=:all: makes pip fail instead of falling back to an sdist. The platform tags:
# manylinux2014 is manylinux_2_17; Bookworm's glibc 2.36 accepts wheels up to manylinux_2_36
# (and Ubuntu 22.04's 2.35), so the newer tags are accepted too.
if ! "$PYTHON" -m pip download --disable-pip-version-check --no-input \
    --only-binary=:all: \
    --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
    --platform manylinux_2_28_aarch64 --platform manylinux_2_31_aarch64 \
    --platform manylinux_2_34_aarch64 --platform manylinux_2_35_aarch64 \
    --python-version "$PY_VERSION" --implementation cp --abi "$cp" --abi abi3 --abi none \
    -d "$dest" "${PACKAGES[@]}" >"$log" 2>&1; then
    grep -E "ERROR|No matching distribution|Could not find" "$log" >&2 || tail -n 20 "$log" >&2
    die "no aarch64 wheel for CPython $PY_VERSION for at least one of: ${PACKAGES[*]} (pip log above)"
fi

# Every file must be a wheel for aarch64 or for any platform; pip should guarantee it.
status=0
count=0
for file in "$dest"/*; do
    [ -e "$file" ] || continue
    name=$(basename "$file")
    case "$name" in
        *-none-any.whl | *aarch64*.whl) printf '  %s\n' "$name" ;;
        *) printf '  %s   <- not an aarch64 wheel\n' "$name"; status=1 ;;
    esac
    count=$((count + 1))
done
[ "$count" -gt 0 ] || die "pip downloaded nothing into $dest"

# Each requested package must be among them (wheel names use _ for - and . and may change case).
for pkg in "${PACKAGES[@]}"; do
    name=${pkg%%[<>=!~;[ ]*} # drop a version specifier or extras
    norm=$(printf '%s' "$name" | tr 'A-Z.-' 'a-z__')
    found=0
    for file in "$dest"/*.whl; do
        base=$(basename "$file" | tr 'A-Z-' 'a-z_')
        case "$base" in "$norm"_*) found=1 ;; esac
    done
    if [ "$found" = 0 ]; then
        printf '%s: no wheel for %s\n' "$PROG" "$pkg" >&2
        status=1
    fi
done

if [ "$status" = 0 ]; then
    echo "ok: $count wheels, all aarch64 or pure Python${KEEP:+ (kept in $KEEP)}"
fi
exit "$status"
