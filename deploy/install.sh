#!/usr/bin/env bash
# Install edge-app as a systemd service on a board: Raspberry Pi OS Bookworm (arm64) or a
# Jetson with JetPack 6 (Ubuntu 22.04). Run it from a checkout (or an unpacked sdist) on the
# board:   sudo deploy/install.sh
#
# What it puts where (and what --uninstall takes away again):
#   user  edge-app                         system user the service runs as
#   /opt/edge-app/venv                     the runtime: `pip install SOURCE`, no extras, never torch;
#                                          on a Jetson (JetPack 6) NVIDIA's onnxruntime-gpu in place
#                                          of PyPI's CPU onnxruntime (see --ort-gpu)
#   /etc/edge-app/config.toml              written only when absent; your edits are never overwritten;
#                                          mode 0640 root:edge-app (it may hold the MQTT password)
#   /etc/edge-app/trusted-keys/            with --trusted-key: public keys for signed bundles; trust.keys
#                                          in the config then points here (docs/security.md)
#   /var/lib/edge-app/state                the outbox (results not yet acknowledged by the broker)
#   /var/lib/edge-app/bundles/             model bundles; `current` links to the one served
#   /etc/systemd/system/edge-app.service   from deploy/edge-app.service; enabled, not started
#
# Running it again changes nothing that is already in place ("unchanged"), except that pip
# installs SOURCE again (that is how you upgrade: pull, re-run, `systemctl restart edge-app`).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=$(basename "$0")

usage() {
    cat <<EOF
Usage: sudo $PROG [options]

Install (or with --uninstall remove) the edge-app service on this board.

Options:
  --source PATH    what to pip install into the venv (default: the repository around this
                   script, $(cd "$SCRIPT_DIR/.." && pwd))
  --python EXE     the Python that creates the venv; needs 3.10 or newer (default: python3)
  --ort-gpu WHEEL  Jetson: install this onnxruntime-gpu wheel (file or URL) instead of the one
                   from NVIDIA's Jetson AI Lab index for the board's JetPack
  --no-gpu         Jetson: keep PyPI's CPU onnxruntime (device = "cpu")
  --no-pip         do not create the venv or pip install (tests, or a venv you manage yourself)
  --no-systemctl   do not create the user, chown, or call systemctl; print what would be done
  --trusted-key FILE
                   install the public key FILE (signing.pub from \`edge-app keygen\`) into
                   /etc/edge-app/trusted-keys/ and set trust.keys there: the service then serves and
                   installs over the air only bundles signed by a trusted key; repeatable (key rotation)
  --root DIR       prefix every path written with DIR (tests, image builds); needs --no-systemctl
  --uninstall      remove the unit, /opt/edge-app and /etc/edge-app (config included);
                   keep /var/lib/edge-app (bundles, unsent results) and the user
  --purge          with --uninstall: also remove /var/lib/edge-app and the edge-app user
  -h, --help       show this help
EOF
}

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
say() { printf '%s\n' "$*"; }
# item STATUS PATH-OR-THING: one line per item, so a re-run reads as a column of "unchanged".
item() { printf '  %-10s %s\n' "$1" "$2"; }

ROOT=""
SOURCE=""
PYTHON=python3
DO_PIP=1
DO_SYSTEM=1
MODE=install
PURGE=0
TRUSTED_KEYS=()
ORT_GPU=""
GPU=1

while [ $# -gt 0 ]; do
    case "$1" in
        --root)
            [ $# -ge 2 ] || die "--root needs a directory"
            ROOT=$2
            shift 2
            ;;
        --root=*) ROOT=${1#--root=}; shift ;;
        --source)
            [ $# -ge 2 ] || die "--source needs a path"
            SOURCE=$2
            shift 2
            ;;
        --source=*) SOURCE=${1#--source=}; shift ;;
        --python)
            [ $# -ge 2 ] || die "--python needs an executable"
            PYTHON=$2
            shift 2
            ;;
        --python=*) PYTHON=${1#--python=}; shift ;;
        --no-pip) DO_PIP=0; shift ;;
        --trusted-key)
            [ $# -ge 2 ] || die "--trusted-key needs a public key file"
            TRUSTED_KEYS+=("$2")
            shift 2
            ;;
        --trusted-key=*) TRUSTED_KEYS+=("${1#--trusted-key=}"); shift ;;
        --ort-gpu)
            [ $# -ge 2 ] || die "--ort-gpu needs a wheel file or URL"
            ORT_GPU=$2
            shift 2
            ;;
        --ort-gpu=*) ORT_GPU=${1#--ort-gpu=}; shift ;;
        --no-gpu) GPU=0; shift ;;
        --no-systemctl) DO_SYSTEM=0; shift ;;
        --uninstall) MODE=uninstall; shift ;;
        --purge) PURGE=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

[ "$PURGE" = 1 ] && [ "$MODE" != uninstall ] && die "--purge only goes with --uninstall"
for key in ${TRUSTED_KEYS[@]+"${TRUSTED_KEYS[@]}"}; do # checked before anything is changed
    [ -f "$key" ] || die "--trusted-key $key: no such file"
    if grep -q "PRIVATE KEY" -- "$key"; then
        die "--trusted-key $key is a private key; install the public one (signing.pub), keep signing.key on the workstation"
    fi
    grep -Eq "^-----BEGIN PUBLIC KEY-----|^ssh-ed25519 " -- "$key" ||
        die "--trusted-key $key is not a public key file (signing.pub from edge-app keygen)"
done

if [ -n "$ROOT" ]; then
    [ "$DO_SYSTEM" = 0 ] || die "--root needs --no-systemctl: the user and systemd belong to the running system"
    mkdir -p "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" != / ] || ROOT=""
fi
if [ "$DO_SYSTEM" = 1 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo $0), or pass --no-systemctl --root DIR to try it out"
fi

APP_USER=edge-app
OPT_DIR=$ROOT/opt/edge-app
VENV=$OPT_DIR/venv
ETC_DIR=$ROOT/etc/edge-app
CONFIG=$ETC_DIR/config.toml
KEYS_DIR=$ETC_DIR/trusted-keys
BOARD_KEYS_DIR=/etc/edge-app/trusted-keys # what the config names: the path on the board, without --root
VAR_DIR=$ROOT/var/lib/edge-app
STATE_DIR=$VAR_DIR/state
BUNDLES_DIR=$VAR_DIR/bundles
UNIT_DIR=$ROOT/etc/systemd/system
UNIT=$UNIT_DIR/edge-app.service
UNIT_SRC=$SCRIPT_DIR/edge-app.service
CONFIG_SRC=$SCRIPT_DIR/config.toml

# run CMD...: run a command that changes the real system, or print it under --no-systemctl.
run() {
    if [ "$DO_SYSTEM" = 1 ]; then
        "$@"
    else
        item skipped "(--no-systemctl) $*"
    fi
}

systemd_running() { [ -d /run/systemd/system ]; }

# ---------------------------------------------------------------------------- uninstall
if [ "$MODE" = uninstall ]; then
    say "edge-app: uninstalling"
    if [ "$DO_SYSTEM" = 1 ] && command -v systemctl >/dev/null 2>&1 && [ -e "$UNIT" ]; then
        if systemd_running; then
            systemctl disable --now edge-app || true
        else
            systemctl disable edge-app || true
        fi
    elif [ "$DO_SYSTEM" = 0 ]; then
        run systemctl disable --now edge-app
    fi
    # Home Assistant entities (#17): clear this device's retained discovery configs while the venv and
    # config still exist. Harmless when discovery was never on; a broker out of reach only warns.
    if [ -x "$OPT_DIR/venv/bin/python" ] && [ -f "$ETC_DIR/config.toml" ]; then
        run "$OPT_DIR/venv/bin/python" -m edge_app.mqtt.discovery clear --config "$ETC_DIR/config.toml" \
            || item warning "Home Assistant configs not cleared; delete the device in Home Assistant"
    fi
    for path in "$UNIT" "$OPT_DIR" "$ETC_DIR"; do
        if [ -e "$path" ] || [ -L "$path" ]; then
            rm -rf -- "$path"
            item removed "$path"
        else
            item absent "$path"
        fi
    done
    if [ "$DO_SYSTEM" = 0 ]; then
        run systemctl daemon-reload
    elif systemd_running; then
        systemctl daemon-reload
    fi
    if [ "$PURGE" = 1 ]; then
        if [ -e "$VAR_DIR" ]; then
            rm -rf -- "$VAR_DIR"
            item removed "$VAR_DIR"
        else
            item absent "$VAR_DIR"
        fi
        if [ "$DO_SYSTEM" = 0 ]; then
            run userdel "$APP_USER"
        elif id -u "$APP_USER" >/dev/null 2>&1; then
            userdel "$APP_USER"
            item removed "user $APP_USER"
        fi
    else
        item kept "$VAR_DIR (bundles and unsent results; --purge removes it)"
    fi
    exit 0
fi

# ------------------------------------------------------------------------------ install
[ -f "$UNIT_SRC" ] || die "$UNIT_SRC is missing; run the script from the repository's deploy/ folder"
[ -f "$CONFIG_SRC" ] || die "$CONFIG_SRC is missing; run the script from the repository's deploy/ folder"

JETSON=0
if [ -e "$ROOT/etc/nv_tegra_release" ] || grep -qa Jetson "$ROOT/proc/device-tree/model" 2>/dev/null; then
    JETSON=1
fi
# NVIDIA builds onnxruntime-gpu for Jetson (aarch64, CUDA and TensorRT; cp310 for JetPack 6's
# Python 3.10) and publishes it on the Jetson AI Lab pip index, one index per JetPack/CUDA;
# PyPI's onnxruntime-gpu has no Jetson build. The wheels are also listed in the Jetson Zoo
# (https://elinux.org/Jetson_Zoo#ONNX_Runtime).
L4T=$(sed -n 's/^# R\([0-9]*\) (release), REVISION: \([0-9.]*\).*/\1.\2/p' "$ROOT/etc/nv_tegra_release" 2>/dev/null || true)
ORT_GPU_INDEX="https://pypi.jetson-ai-lab.io/jp6/cu126"
case "$L4T" in
    36.4*) JETPACK="JetPack 6.1/6.2, CUDA 12.6" ;;
    36.*) JETPACK="JetPack 6.0, CUDA 12.2"; ORT_GPU_INDEX="https://pypi.jetson-ai-lab.io/jp6/cu122" ;;
    35.*) JETPACK="JetPack 5: not supported (Ubuntu 20.04, Python 3.8)" ;;
    "") JETPACK="version unknown: no /etc/nv_tegra_release" ;;
    *) JETPACK="L4T R$L4T" ;;
esac

say "edge-app: installing${ROOT:+ under $ROOT}"

# The user. --system gives no password, no login shell, no home and a uid below 1000.
if [ "$DO_SYSTEM" = 0 ]; then
    run useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$APP_USER"
elif id -u "$APP_USER" >/dev/null 2>&1; then
    item unchanged "user $APP_USER"
else
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$APP_USER"
    item created "user $APP_USER"
fi
if [ "$JETSON" = 1 ]; then
    # On a Jetson the GPU device nodes (/dev/nvhost-*, /dev/nvmap) belong to group video (and render).
    for group in video render; do
        if [ "$DO_SYSTEM" = 0 ]; then
            run usermod -aG "$group" "$APP_USER"
        elif getent group "$group" >/dev/null; then
            if id -nG "$APP_USER" | tr ' ' '\n' | grep -qx "$group"; then
                item unchanged "user $APP_USER in group $group"
            else
                usermod -aG "$group" "$APP_USER"
                item changed "user $APP_USER added to group $group"
            fi
        fi
    done
fi

# make_dir DIR MODE [OWNER]: create if missing; chmod/chown only when different (no mtime change).
make_dir() {
    local dir=$1 mode=$2 owner=${3:-}
    if [ -d "$dir" ]; then
        item unchanged "$dir/"
    else
        mkdir -p -- "$dir"
        item created "$dir/"
    fi
    if [ "$(stat -c %a "$dir")" != "${mode#0}" ]; then
        chmod "$mode" "$dir"
    fi
    if [ -n "$owner" ] && [ "$DO_SYSTEM" = 1 ] && [ "$(stat -c %U:%G "$dir")" != "$owner" ]; then
        chown "$owner" "$dir"
    fi
}

# put_file SRC DEST MODE: copy under a temporary name, then rename, so a crash never leaves half a
# file that a re-run would keep.
put_file() {
    local tmp
    tmp=$(mktemp "$2.XXXXXX")
    cat -- "$1" >"$tmp"
    chmod "$3" "$tmp"
    mv -f -- "$tmp" "$2"
}

# install_ort_gpu: swap PyPI's CPU onnxruntime for NVIDIA's onnxruntime-gpu (Jetson). Both provide
# the `onnxruntime` module, so the CPU one goes first; if the GPU one cannot be installed, the
# CPU one is put back and the script stops saying what to do.
install_ort_gpu() {
    local py=$VENV/bin/python want pyver
    if [ -z "$ORT_GPU" ] && "$py" -m pip show --quiet onnxruntime-gpu >/dev/null 2>&1; then
        item unchanged "onnxruntime-gpu $("$py" -m pip show onnxruntime-gpu | sed -n 's/^Version: //p')"
        return 0
    fi
    if [ -n "$ORT_GPU" ]; then
        want=("$ORT_GPU")
    else
        want=(onnxruntime-gpu --extra-index-url "$ORT_GPU_INDEX")
    fi
    say "  Jetson ($JETPACK): onnxruntime-gpu from ${ORT_GPU:-$ORT_GPU_INDEX}"
    "$py" -m pip --disable-pip-version-check uninstall -y -q onnxruntime || true
    if ! "$py" -m pip --disable-pip-version-check --no-input install "${want[@]}"; then
        "$py" -m pip --disable-pip-version-check --no-input install -q onnxruntime || true
        pyver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        die "could not install onnxruntime-gpu (${ORT_GPU:-from $ORT_GPU_INDEX}); the CPU onnxruntime is back in place. Download NVIDIA's wheel for your JetPack and Python $pyver from the Jetson Zoo (https://elinux.org/Jetson_Zoo#ONNX_Runtime) or $ORT_GPU_INDEX, and re-run with --ort-gpu FILE (or --no-gpu for CPU only)"
    fi
    item installed "onnxruntime-gpu, providers: $("$py" -c 'import onnxruntime as o; print(" ".join(o.get_available_providers()))' 2>/dev/null || echo '?')"
}

make_dir "$ETC_DIR" 0755
make_dir "$VAR_DIR" 0750 "$APP_USER:$APP_USER"
make_dir "$STATE_DIR" 0750 "$APP_USER:$APP_USER"
make_dir "$BUNDLES_DIR" 0755 "$APP_USER:$APP_USER"

# The config: only when absent (put_file: a crash never leaves half a config a re-run would keep).
if [ -e "$CONFIG" ]; then
    item unchanged "$CONFIG (exists; never overwritten)"
else
    put_file "$CONFIG_SRC" "$CONFIG" 0640
    item created "$CONFIG"
fi
# It may hold the MQTT password: readable by root and the service's group only.
if [ "$(stat -c %a "$CONFIG")" != 640 ]; then
    chmod 0640 "$CONFIG"
    item secured "$CONFIG (mode 0640)"
fi
if [ "$DO_SYSTEM" = 1 ] && [ "$(stat -c %U:%G "$CONFIG")" != "root:$APP_USER" ]; then
    chown "root:$APP_USER" "$CONFIG"
    item secured "$CONFIG (owner root:$APP_USER)"
fi

# Trusted public keys: root's files, readable by all (they are public), writable by no service.
if [ ${#TRUSTED_KEYS[@]} -gt 0 ]; then
    make_dir "$KEYS_DIR" 0755
    for key in "${TRUSTED_KEYS[@]}"; do
        # Named after its content: installing the same key twice is a no-op, two keys never collide.
        dest="$KEYS_DIR/key-$(sha256sum <"$key" | cut -c1-16).pub"
        if [ -f "$dest" ] && cmp -s -- "$key" "$dest"; then
            item unchanged "$dest"
        else
            put_file "$key" "$dest" 0644
            item installed "$dest (from $key)"
        fi
    done
    # trust.keys in the config: set it when unset; an operator's own value is kept (and named).
    current=$(awk '/^[[:space:]]*\[/ { sec = $0; gsub(/[[:space:]]/, "", sec) }
        sec == "[trust]" && /^[[:space:]]*keys[[:space:]]*=/ { sub(/^[^=]*=[[:space:]]*/, ""); sub(/[[:space:]]*#.*$/, ""); print; exit }' "$CONFIG")
    if [ "$current" = "\"$BOARD_KEYS_DIR\"" ]; then
        item unchanged "$CONFIG trust.keys"
    elif [ -n "$current" ] && [ "$current" != '""' ]; then
        item kept "$CONFIG trust.keys = $current (yours; the keys above are in $BOARD_KEYS_DIR)"
    else
        tmp=$(mktemp "$CONFIG.XXXXXX")
        if [ -n "$current" ]; then # keys = "" in [trust]: fill it in
            awk -v value="keys = \"$BOARD_KEYS_DIR\"" '/^[[:space:]]*\[/ { sec = $0; gsub(/[[:space:]]/, "", sec) }
                sec == "[trust]" && /^[[:space:]]*keys[[:space:]]*=/ && !done { print value; done = 1; next } { print }' \
                "$CONFIG" >"$tmp"
        elif grep -Eq '^[[:space:]]*\[trust\][[:space:]]*(#.*)?$' "$CONFIG"; then # a [trust] table without keys
            awk -v value="keys = \"$BOARD_KEYS_DIR\"" '{ print } /^[[:space:]]*\[trust\]/ && !done { print value; done = 1 }' \
                "$CONFIG" >"$tmp"
        else
            { cat -- "$CONFIG"; printf '\n[trust]\nkeys = "%s"\n' "$BOARD_KEYS_DIR"; } >"$tmp"
        fi
        chmod 0640 "$tmp"
        [ "$DO_SYSTEM" = 0 ] || chown "root:$APP_USER" "$tmp"
        mv -f -- "$tmp" "$CONFIG"
        item updated "$CONFIG trust.keys = \"$BOARD_KEYS_DIR\""
    fi
fi

# The venv with the runtime only.
if [ "$DO_PIP" = 1 ]; then
    if [ -z "$SOURCE" ]; then
        SOURCE=$(cd "$SCRIPT_DIR/.." && pwd)
    fi
    if [ -x "$VENV/bin/python" ]; then
        item unchanged "$VENV/"
    else
        command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install python3 (3.10 or newer)"
        if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
            die "$("$PYTHON" --version 2>&1) is too old: edge-app needs Python 3.10 or newer (--python EXE picks another)"
        fi
        "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null ||
            die "the venv module is missing: sudo apt-get install python3-venv"
        mkdir -p -- "$OPT_DIR"
        "$PYTHON" -m venv "$VENV"
        item created "$VENV/"
    fi
    pip_args=(--disable-pip-version-check --no-input install)
    if "$VENV/bin/python" -m pip show --quiet onnxruntime-gpu >/dev/null 2>&1; then
        # onnxruntime-gpu provides the `onnxruntime` module but not the `onnxruntime`
        # distribution the package depends on: resolving dependencies would put the CPU
        # wheel back over the GPU one.
        say "  onnxruntime-gpu is installed in the venv: installing edge-app with --no-deps to keep it"
        pip_args+=(--no-deps)
    fi
    say "  pip install $SOURCE"
    "$VENV/bin/python" -m pip "${pip_args[@]}" "$SOURCE"
    item installed "$("$VENV/bin/edge-app" --version 2>/dev/null || echo "edge-app into $VENV")"
    if [ "$JETSON" = 1 ] && [ "$GPU" = 1 ]; then
        install_ort_gpu
    fi
else
    item skipped "(--no-pip) venv $VENV"
fi

# The unit: rewritten only when its content differs.
UNIT_CHANGED=0
if [ -f "$UNIT" ] && cmp -s -- "$UNIT_SRC" "$UNIT"; then
    item unchanged "$UNIT"
else
    mkdir -p -- "$UNIT_DIR"
    verb=created
    [ -e "$UNIT" ] && verb=updated
    put_file "$UNIT_SRC" "$UNIT" 0644
    item "$verb" "$UNIT"
    UNIT_CHANGED=1
fi
if [ "$DO_SYSTEM" = 0 ]; then
    [ "$UNIT_CHANGED" = 0 ] || run systemctl daemon-reload
    run systemctl enable edge-app
else
    if [ "$UNIT_CHANGED" = 1 ] && systemd_running; then
        systemctl daemon-reload
    fi
    if systemctl is-enabled --quiet edge-app 2>/dev/null; then
        item unchanged "systemctl enable edge-app"
    else
        systemctl enable --quiet edge-app
        item enabled "edge-app.service (starts at boot)"
    fi
fi

# What is left for the user.
say ""
if [ -L "$BUNDLES_DIR/current" ] || [ -e "$BUNDLES_DIR/current" ]; then
    say "Serving bundle: $BUNDLES_DIR/current -> $(readlink "$BUNDLES_DIR/current" || echo '?')"
else
    say "No bundle yet: $BUNDLES_DIR/current does not exist. From the workstation, push one:"
    say "    deploy/push.sh user@this-board BUNDLE_DIR"
    say "  It copies the bundle to $BUNDLES_DIR/<sha>-<time>, runs \`edge-app verify\` on it, links"
    say "  current to it and reloads the service. Build bundles on the workstation (edge-app export"
    say "  or edge-app build-default, the export extra); the board never needs torch."
fi

if [ "$JETSON" = 1 ]; then
    cat <<EOF

Jetson detected (L4T ${L4T:-?}, $JETPACK). The venv gets NVIDIA's onnxruntime-gpu (CUDA and
TensorRT) from the Jetson AI Lab pip index ($ORT_GPU_INDEX) in place of PyPI's CPU-only
onnxruntime; --ort-gpu WHEEL installs a wheel you downloaded (Jetson Zoo:
https://elinux.org/Jetson_Zoo#ONNX_Runtime), --no-gpu keeps the CPU one. By hand (--no-pip,
a venv you manage):
     $VENV/bin/pip uninstall -y onnxruntime    (both wheels provide the onnxruntime module)
     $VENV/bin/pip install onnxruntime-gpu --extra-index-url $ORT_GPU_INDEX
Then:
  1. set device = "cuda" (or "tensorrt") in $CONFIG; a bundle made with --gpu
     (edge-app export --gpu, build-default --gpu) carries an fp16 model for the GPU
  2. MemoryMax=768M in the unit is tight for CUDA/TensorRT: sudo systemctl edit edge-app,
     add [Service] MemoryMax=2G; then sudo systemctl restart edge-app
Re-running this script keeps onnxruntime-gpu (it installs edge-app with --no-deps then).
EOF
fi

say ""
if [ "$DO_SYSTEM" = 1 ] && systemd_running && systemctl is-active --quiet edge-app; then
    say "edge-app is running; to load new code or a changed config: sudo systemctl restart edge-app"
else
    say "Next: edit $CONFIG (mqtt.broker, credentials), then: sudo systemctl start edge-app"
    say "      logs: journalctl -u edge-app -f"
fi
