#!/usr/bin/env bash
# Check edge-app on emulated Raspberry Pis from an x86_64 Debian/Ubuntu machine (CI runs it
# from `./run test`): the board's own install path, then the bundle, compared with x86.
#
#   1. host: qemu-user-static, binfmt-support, debootstrap (Debian packages) and the kernel's
#      binfmt_misc handler for aarch64, so every arm64 program in the chroot runs under QEMU
#   2. an arm64 Debian bookworm root filesystem (what Raspberry Pi OS Bookworm 64-bit is built
#      on; Python 3.11), made once and cached in --cache (outside the clone)
#   3. per run, a throw-away overlay on that cache: the working tree is copied in and the board
#      installs it the way a user does, `deploy/install.sh --root / --no-systemctl`, which puts
#      the runtime into /opt/edge-app/venv from PyPI's aarch64 wheels (pip's download cache is
#      kept in --cache, the install itself is done afresh every run)
#   4. for each --pi (4 = Cortex-A72, 5 = Cortex-A76): `edge-app verify`, `edge-app classify` on
#      one text, then every text of --texts through `edge-app classify`; each label must equal
#      the host's and its score must be within --tolerance of the host's
#   5. negative control: the bundle with one flipped byte must be refused, or the check
#      could pass with anything
#
# Exit status: 0 passed, 1 failed, 77 skipped (binfmt_misc cannot be used here: a container
# without it, or no root); the reason is the last line printed. Needs root (debootstrap, chroot,
# mounts). Everything CPU-heavy runs at nice 19 and idle I/O priority.
#
# Emulation traps (QEMU 7.2, Debian 12's qemu-user-static):
#  * the guest sees the host's x86 /proc/cpuinfo, and `import onnxruntime` segfaults on it:
#    a Raspberry Pi cpuinfo matching the emulated core is bind-mounted over /proc/cpuinfo;
#  * QEMU's default CPU ("max") has SME, and onnxruntime then returns near-uniform garbage:
#    we emulate the Pi's own core with QEMU_CPU.
set -euo pipefail

PROG=$(basename "$0")
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$SCRIPT_DIR/.." && pwd)
CACHE=${EDGE_APP_ARM64_CACHE:-/var/cache/edge-app/arm64}
BUNDLE=""
PREPARE=0
TEXTS=$SRC/export/data/intents/test.jsonl
HOST_EDGE_APP=""
PIS="4 5"
TOLERANCE=0.001
# Labels must agree on every text; scores within TOLERANCE on MIN_CLOSE of them, and within MAX_DIFF on
# every one. With activation scales fixed at export a score moves only where Arm's float kernels put a
# value on the other side of a rounding step: a few texts, by a few 1e-3 (docs/boards.md).
MIN_CLOSE=0.99
MAX_DIFF=0.01
MIRROR=${EDGE_APP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PACKAGES=python3,python3-venv,python3-pip,ca-certificates
ROOTFS_ID="$SUITE minbase $PACKAGES v1"  # change it to rebuild every cached rootfs

usage() {
    cat <<EOF
Usage: sudo $PROG --bundle DIR --host-edge-app EXE [options]

Install edge-app on an emulated arm64 Raspberry Pi (Debian $SUITE chroot) with deploy/install.sh
and check that DIR classifies every text of --texts as on this x86 machine.

Options (defaults in brackets):
  --bundle DIR          bundle to check (manifest.json, model.onnx, tokenizer.json)
  --host-edge-app EXE   this machine's edge-app, for the reference results
  --texts FILE          JSONL with a "text" per line          [$TEXTS]
  --pi "4 5"            boards to emulate: 3 (Cortex-A53), 4 (A72), 5 (A76)  [$PIS]
  --tolerance X         largest score difference allowed     [$TOLERANCE]
  --min-close F         share of texts that must be within it [$MIN_CLOSE] (labels: all)
  --max-diff X          largest score difference allowed on any text [$MAX_DIFF]
  --cache DIR           cached rootfs and pip downloads     [$CACHE]
  --mirror URL          Debian mirror for debootstrap        [$MIRROR]
  --prepare             only install the host packages and build the cached rootfs, then exit
                        (./run test does it while the default bundle builds)
  -h, --help            this help
EOF
}

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
skip() { printf 'arm64 check skipped: %s\n' "$*"; exit 77; }
step() { printf '\n-- arm64: %s\n' "$*"; }
now() { date +%s; }

while [ $# -gt 0 ]; do
    case "$1" in
        --bundle) BUNDLE=$2; shift 2 ;;
        --host-edge-app) HOST_EDGE_APP=$2; shift 2 ;;
        --texts) TEXTS=$2; shift 2 ;;
        --pi) PIS=$2; shift 2 ;;
        --tolerance) TOLERANCE=$2; shift 2 ;;
        --min-close) MIN_CLOSE=$2; shift 2 ;;
        --max-diff) MAX_DIFF=$2; shift 2 ;;
        --cache) CACHE=$2; shift 2 ;;
        --mirror) MIRROR=$2; shift 2 ;;
        --prepare) PREPARE=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
if [ "$PREPARE" = 0 ]; then
    [ -f "$BUNDLE/manifest.json" ] || die "--bundle ${BUNDLE:-(none)} is not a bundle folder (no manifest.json)"
    [ -x "$HOST_EDGE_APP" ] || die "--host-edge-app ${HOST_EDGE_APP:-(none)} is not an executable edge-app"
    [ -f "$TEXTS" ] || die "--texts $TEXTS does not exist"
    BUNDLE=$(cd "$BUNDLE" && pwd)
fi

# ----------------------------------------------------------------------------- 1. host
[ "$(id -u)" = 0 ] || skip "needs root for binfmt_misc, debootstrap and chroot (run ./run test as root or with sudo)"
[ "$(uname -m)" = x86_64 ] || skip "host is $(uname -m); this check emulates arm64 from x86_64"
renice -n 19 -p $$ >/dev/null
ionice -c3 -p $$ 2>/dev/null || true
mkdir -p "$CACHE"
LOGS=$CACHE/logs
mkdir -p "$LOGS"

ensure_host_packages() {
    local pkg missing=()
    for pkg in qemu-user-static binfmt-support debootstrap; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} = 0 ] && return 0
    command -v apt-get >/dev/null || skip "no apt-get to install ${missing[*]}"
    echo "installing ${missing[*]} (Debian packages)"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
        >"$LOGS/apt.log" 2>&1 || die "apt-get install ${missing[*]} failed, see $LOGS/apt.log"
}

# binfmt_misc makes the kernel hand every aarch64 ELF (pip, dpkg, python in the chroot) to QEMU.
# Running qemu-aarch64-static by hand is no substitute: the programs it starts would fail.
ensure_binfmt() {
    local dir=/proc/sys/fs/binfmt_misc
    [ -e "$dir/register" ] || mount -t binfmt_misc binfmt_misc "$dir" 2>/dev/null ||
        skip "binfmt_misc cannot be mounted on $dir (a container without it?); run CI on a VM or host"
    grep -qx enabled "$dir/qemu-aarch64" 2>/dev/null || update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    grep -qx enabled "$dir/qemu-aarch64" 2>/dev/null || skip "the qemu-aarch64 binfmt_misc handler cannot be enabled here"
}

T_START=$(now)
ensure_host_packages
ensure_binfmt

# One run at a time per cache: the rootfs is shared.
exec 9>"$CACHE/lock"
flock 9

# ----------------------------------------------------------------------------- 2. rootfs
BASE=$CACHE/rootfs
QEMU_CPU=cortex-a72

# in_root ROOT CMD...: run CMD in the arm64 ROOT with a clean environment (the host's PIP_*
# settings, file:// wheel folders among them, must not leak in) and the emulated CPU.
in_root() {
    local root=$1 v pass=()
    shift
    for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [ -z "${!v:-}" ] || pass+=("$v=${!v}")
    done
    env -i HOME=/root TERM=dumb LANG=C.UTF-8 QEMU_CPU="$QEMU_CPU" PIP_DISABLE_PIP_VERSION_CHECK=1 "${pass[@]}" \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /usr/sbin/chroot "$root" "$@"
}

build_rootfs() {
    local new=$CACHE/rootfs.new t
    rm -rf "$new"
    t=$(now)
    echo "debootstrap $SUITE arm64 from $MIRROR (first stage: download and unpack) ..."
    debootstrap --arch=arm64 --foreign --variant=minbase --include="$PACKAGES" "$SUITE" "$new" "$MIRROR" \
        >"$LOGS/debootstrap1.log" 2>&1 || die "debootstrap failed, see $LOGS/debootstrap1.log"
    echo "second stage (dpkg configures everything, emulated) ..."
    in_root "$new" /debootstrap/debootstrap --second-stage >"$LOGS/debootstrap2.log" 2>&1 ||
        die "debootstrap second stage failed, see $LOGS/debootstrap2.log"
    echo "$ROOTFS_ID" >"$new/.edge-app-rootfs"
    rm -rf "$BASE"
    mv "$new" "$BASE"
    echo "rootfs built in $(($(now) - t)) s, cached in $BASE"
}

rootfs_cached() { [ "$(cat "$BASE/.edge-app-rootfs" 2>/dev/null)" = "$ROOTFS_ID" ]; }
if [ "$PREPARE" = 1 ]; then
    rootfs_cached && echo "rootfs cached: $BASE" || build_rootfs
    exit 0
fi

# This run's folder: the reference results, then a fresh overlay on the cached rootfs.
RUN_DIR=$(mktemp -d "$CACHE/run.XXXXXX")
ROOT=$RUN_DIR/root
MOUNTS=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount -R "${MOUNTS[$i]}" 2>/dev/null || umount -R -l "${MOUNTS[$i]}" 2>/dev/null || true
    done
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT

step "reference: edge-app classify on this machine"
# The texts (one per line) and the host's reference results.
python3 -c 'import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    if line.strip(): print(json.loads(line)["text"])' "$TEXTS" >"$RUN_DIR/texts.txt"
N_TEXTS=$(wc -l <"$RUN_DIR/texts.txt")
N_LABELS=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["labels"]))' "$BUNDLE/manifest.json")
"$HOST_EDGE_APP" classify --bundle "$BUNDLE" --device cpu --top-k "$N_LABELS" <"$RUN_DIR/texts.txt" \
    >"$RUN_DIR/host.jsonl" || die "edge-app classify on this machine failed on $BUNDLE (a broken bundle fails here already)"
echo "  $N_TEXTS texts, $N_LABELS labels"

step "rootfs"
if rootfs_cached; then
    echo "cached: $BASE (Debian $(cat "$BASE/etc/debian_version"))"
else
    build_rootfs
fi

# ----------------------------------------------------------------------------- 3. install
mkdir -p "$RUN_DIR"/{upper,work} "$ROOT"
if mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$RUN_DIR/upper,workdir=$RUN_DIR/work" "$ROOT" 2>/dev/null; then
    MOUNTS+=("$ROOT")
else
    echo "no overlayfs here: copying the rootfs instead"
    cp -a "$BASE/." "$ROOT/"
fi
mkdir -p "$CACHE/pip" "$ROOT/root/.cache/pip"
mount --bind "$CACHE/pip" "$ROOT/root/.cache/pip" && MOUNTS+=("$ROOT/root/.cache/pip")
mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc")
mount -t sysfs sysfs "$ROOT/sys" && MOUNTS+=("$ROOT/sys")
mount --rbind /dev "$ROOT/dev" && mount --make-rslave "$ROOT/dev" && MOUNTS+=("$ROOT/dev")

# Network and trust for pip: DNS and the host's extra CA certificates (a proxy's, say).
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    in_root "$ROOT" update-ca-certificates >"$LOGS/update-ca.log" 2>&1 || die "update-ca-certificates failed"
fi

# The working tree as git sees it (tracked and new files, nothing ignored): what a user copies.
mkdir -p "$ROOT/opt/edge-app-src"
git -C "$SRC" ls-files -z --cached --others --exclude-standard |
    (cd "$SRC" && xargs -0 -r ls -d 2>/dev/null | tar -cf - -T -) | tar -xf - -C "$ROOT/opt/edge-app-src"

step "deploy/install.sh --root / --no-systemctl (in the arm64 chroot)"
t=$(now)
if ! in_root "$ROOT" bash /opt/edge-app-src/deploy/install.sh --root / --no-systemctl \
    >"$LOGS/install.log" 2>&1; then
    tail -n 15 "$LOGS/install.log"
    die "deploy/install.sh failed in the arm64 root, see $LOGS/install.log"
fi
grep -E '^  (installed|created) ' "$LOGS/install.log" | grep -E 'venv|edge-app' || true
echo "install: $(($(now) - t)) s"
in_root "$ROOT" /opt/edge-app/venv/bin/python - <<'EOF'
import importlib.metadata as md, platform, sys
print(f"  {platform.machine()}, Python {sys.version.split()[0]}")
for name in ("onnxruntime", "tokenizers", "numpy", "paho-mqtt", "edge-app"):
    dist = md.distribution(name)
    tags = [l.split(":", 1)[1].strip() for l in (dist.read_text("WHEEL") or "").splitlines() if l.startswith("Tag:")]
    print(f"  {name:12} {dist.version:9} {' '.join(tags)}")
EOF

# ----------------------------------------------------------------------------- 4. check

mkdir -p "$ROOT/var/lib/edge-app/bundles"
BOARD_EDGE_APP=/opt/edge-app/venv/bin/edge-app
cp "$RUN_DIR/texts.txt" "$ROOT/tmp/texts.txt"

# write_cpuinfo PI FILE: a Raspberry Pi /proc/cpuinfo for that board's core, one block per host
# CPU (the guest sees the host's /sys, so the counts must agree).
write_cpuinfo() {
    local variant part rev features model revision i
    case "$1" in
        3) variant=0x0 part=0xd03 rev=4 features="fp asimd evtstrm crc32 cpuid"
           model="Raspberry Pi 3 Model B Rev 1.2" revision=a02082 ;;
        4) variant=0x0 part=0xd08 rev=3 features="fp asimd evtstrm crc32 cpuid"
           model="Raspberry Pi 4 Model B Rev 1.5" revision=d03115 ;;
        5) variant=0x4 part=0xd0b rev=1
           features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
           model="Raspberry Pi 5 Model B Rev 1.0" revision=d04170 ;;
    esac
    {
        for ((i = 0; i < $(nproc --all); i++)); do
            printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\n' "$i" "$features"
            printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\n' "$variant"
            printf 'CPU part\t: %s\nCPU revision\t: %s\n\n' "$part" "$rev"
        done
        printf 'Revision\t: %s\nSerial\t\t: 0000000000000000\nModel\t\t: %s\n' "$revision" "$model"
    } >"$2"
}

# compare HOST BOARD SAMPLES: identical labels on every text, the labels the export validated, and
# each text's score (the predicted label's, what a result reports) within the tolerance on at least
# MIN_CLOSE of the texts and within MAX_DIFF on all, or exit 1. The largest difference over all
# labels' scores is printed too.
compare() {
    python3 - "$1" "$2" "$TOLERANCE" "$3" "$MIN_CLOSE" "$MAX_DIFF" <<'EOF'
import json, os, sys
host = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
board = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
tol, min_close, max_diff = float(sys.argv[3]), float(sys.argv[5]), float(sys.argv[6])
# The labels the export validated (eval_samples.jsonl, when the bundle has one): a reference
# that does not come from this run, so a bundle broken the same way on both sides still fails.
expected = {}
if os.path.isfile(sys.argv[4]):
    expected = {r["text"]: r["expected"] for r in map(json.loads, open(sys.argv[4], encoding="utf-8")) if "expected" in r}
if len(host) != len(board):
    sys.exit(f"  FAIL: {len(board)} results on the board for {len(host)} texts")
bad, far, worst, worst_any, mislabelled = [], [], 0.0, 0.0, 0
for h, b in zip(host, board):
    diff = abs(h["score"] - b.get("score", float("inf")))
    worst = max(worst, diff)
    bs = {s["label"]: s["score"] for s in b.get("scores", [])}
    worst_any = max([worst_any] + [abs(s["score"] - bs.get(s["label"], float("inf"))) for s in h["scores"]])
    line = f"    {h['text']!r}: x86 {h['label']} {h['score']}, arm64 {b.get('label')} {b.get('score')}"
    if h["label"] != b.get("label"):
        bad.append(line)
        mislabelled += 1
    elif expected.get(h["text"], b["label"]) != b["label"]:
        bad.append(f"    {h['text']!r}: arm64 {b['label']}, the export validated {expected[h['text']]}")
    elif diff > max_diff:
        bad.append(line.replace("    ", "    (over --max-diff) ", 1))
    elif diff > tol:
        far.append(line)
close = (len(host) - len(bad) - len(far)) / max(1, len(host))
print(f"  agreement with x86: {len(host) - mislabelled}/{len(host)} texts with the same label; "
      f"{close:.1%} also within {tol:g} in score (bar {min_close:.0%}, every text within {max_diff:g}; "
      f"largest difference {worst:.1e}, "
      f"over all labels' scores {worst_any:.1e})")
if close < min_close:
    bad += far
checked = sum(h["text"] in expected for h in host)
print(f"  labels the export validated (eval_samples.jsonl): {checked} texts checked")
for line in bad[:10]:
    print(line)
for line in far[:10] if not bad else []:
    print(line.replace("    ", "    (score only) ", 1))
sys.exit(1 if bad else 0)
EOF
}

# check_board PI BUNDLE_NAME: verify, classify one text, then every text against the host.
check_board() {
    local pi=$1 name=$2 t out
    t=$(now)
    in_root "$ROOT" "$BOARD_EDGE_APP" verify "/var/lib/edge-app/bundles/$name" || return 1
    out=$(in_root "$ROOT" "$BOARD_EDGE_APP" classify --bundle "/var/lib/edge-app/bundles/$name" \
        "turn on the light in the kitchen") || return 1
    echo "  classify: $out"
    in_root "$ROOT" "$BOARD_EDGE_APP" classify --bundle "/var/lib/edge-app/bundles/$name" --device cpu \
        --top-k "$N_LABELS" --no-verify <"$ROOT/tmp/texts.txt" >"$RUN_DIR/board-$pi.jsonl" || return 1
    compare "$RUN_DIR/host.jsonl" "$RUN_DIR/board-$pi.jsonl" "$BUNDLE/eval_samples.jsonl" || return 1
    echo "  Pi $pi: $N_TEXTS texts checked in $(($(now) - t)) s"
}

cp -r "$BUNDLE" "$ROOT/var/lib/edge-app/bundles/ci"
# The negative control: one byte of the model flipped (the manifest left as it was).
cp -r "$BUNDLE" "$ROOT/var/lib/edge-app/bundles/broken"
python3 - "$ROOT/var/lib/edge-app/bundles/broken/model.onnx" <<'EOF'
import os, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(os.path.getsize(sys.argv[1]) // 2)
    byte = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([byte[0] ^ 0xFF]))
EOF

status=0
for pi in $PIS; do
    case "$pi" in
        3) QEMU_CPU=cortex-a53 ;;
        4) QEMU_CPU=cortex-a72 ;;
        5) QEMU_CPU=cortex-a76 ;;
        *) die "--pi takes 3, 4 or 5, not $pi" ;;
    esac
    step "Raspberry Pi $pi (QEMU_CPU=$QEMU_CPU, bundle $(basename "$BUNDLE"))"
    write_cpuinfo "$pi" "$RUN_DIR/cpuinfo-$pi"
    mount --bind "$RUN_DIR/cpuinfo-$pi" "$ROOT/proc/cpuinfo"
    check_board "$pi" ci || { echo "  Pi $pi: FAILED"; status=1; }
    umount "$ROOT/proc/cpuinfo"
done

step "negative control: a bundle with one flipped byte must be refused"
if in_root "$ROOT" "$BOARD_EDGE_APP" verify /var/lib/edge-app/bundles/broken >"$LOGS/broken.log" 2>&1; then
    echo "  FAIL: edge-app verify accepted a bundle with a flipped byte"
    status=1
else
    echo "  refused: $(tail -n 1 "$LOGS/broken.log")"
fi

echo
if [ "$status" = 0 ]; then
    echo "arm64 check passed (Pi ${PIS// /, Pi }) in $(($(now) - T_START)) s"
else
    echo "arm64 check FAILED (logs: $LOGS)"
fi
exit "$status"
