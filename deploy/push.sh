#!/usr/bin/env bash
# Push a model bundle from the workstation to a board and switch the service to it:
#
#   deploy/push.sh pi@board.local bundles/intents-int8
#
# 1. copies the folder over SSH (rsync if installed here, else scp -r) to a staging folder in
#    the SSH user's home, then moves it to /var/lib/edge-app/bundles/<sha12>-<UTC time>, where
#    sha12 is the start of the sha256 of the bundle's manifest.json (the bundle's identity);
# 2. runs `/opt/edge-app/venv/bin/edge-app verify` on it, as the service user; when the board
#    trusts signing keys (/etc/edge-app/trusted-keys/*.pub, from install.sh --trusted-key) the
#    bundle must also be signed by one of them (`--trusted-keys`); on failure the copy is
#    removed, `current` is not touched and this script exits non-zero;
# 3. switches /var/lib/edge-app/bundles/current to it atomically (a new link renamed over the
#    old one: the service never sees a missing or half-written link);
# 4. `systemctl reload edge-app`: SIGHUP, the service loads the bundle behind `current`
#    without dropping queued messages.
#
# With --sign-key KEY the bundle is signed here first (`edge-app sign BUNDLE --key KEY`, in place:
# it gets a new version and manifest.sig). The SSH user needs sudo without a password on the board (Raspberry Pi OS's first user has
# it), or be root. Older bundles stay on the board, for rollback; remove them by hand.
set -euo pipefail

PROG=$(basename "$0")
# The board's layout, as deploy/install.sh makes it; the variables are for tests and
# non-standard installs.
REMOTE_BUNDLES=${PUSH_REMOTE_BUNDLES:-/var/lib/edge-app/bundles}
REMOTE_EDGE_APP=${PUSH_REMOTE_EDGE_APP:-/opt/edge-app/venv/bin/edge-app}
SERVICE_USER=${PUSH_SERVICE_USER:-edge-app}
REMOTE_TRUSTED_KEYS=${PUSH_REMOTE_TRUSTED_KEYS:-/etc/edge-app/trusted-keys}
# edge-app here, for --sign-key: on PATH, else the repository's .venv.
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOCAL_EDGE_APP=${PUSH_EDGE_APP:-$(command -v edge-app || echo "$SCRIPT_DIR/../.venv/bin/edge-app")}

usage() {
    cat <<EOF
Usage: $PROG USER@BOARD BUNDLE_DIR [--sign-key KEY] [--ssh-opts "OPTIONS"] [--dry-run]

Copy BUNDLE_DIR (a folder with manifest.json) to the board, verify it there, make it
the current bundle and reload edge-app. A board with trusted keys takes only a bundle
signed by one of them.

Options:
  --sign-key KEY     sign BUNDLE_DIR here first with the private key KEY (edge-app keygen's
                     signing.key): edge-app sign BUNDLE_DIR --key KEY, which changes it in place
  --ssh-opts "OPTS"  extra options for ssh, scp and rsync's ssh, e.g. "-i ~/.ssh/board -o Port=2222"
                     (use -o Port=N: ssh's -p and scp's -P differ)
  --dry-run          print the commands (local and remote) instead of running them
  -h, --help         show this help

The board's paths can be changed through PUSH_REMOTE_BUNDLES (default /var/lib/edge-app/bundles),
PUSH_REMOTE_EDGE_APP (/opt/edge-app/venv/bin/edge-app), PUSH_SERVICE_USER (edge-app) and
PUSH_REMOTE_TRUSTED_KEYS (/etc/edge-app/trusted-keys); PUSH_EDGE_APP is the edge-app that signs here.
EOF
}

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

TARGET=""
BUNDLE=""
SSH_OPTS_STR=""
SIGN_KEY=""
DRY_RUN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --ssh-opts)
            [ $# -ge 2 ] || die "--ssh-opts needs a value"
            SSH_OPTS_STR=$2
            shift 2
            ;;
        --ssh-opts=*) SSH_OPTS_STR=${1#--ssh-opts=}; shift ;;
        --sign-key)
            [ $# -ge 2 ] || die "--sign-key needs a private key file"
            SIGN_KEY=$2
            shift 2
            ;;
        --sign-key=*) SIGN_KEY=${1#--sign-key=}; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option: $1" ;;
        *)
            if [ -z "$TARGET" ]; then
                TARGET=$1
            elif [ -z "$BUNDLE" ]; then
                BUNDLE=$1
            else
                usage >&2
                die "unexpected argument: $1"
            fi
            shift
            ;;
    esac
done
if [ -z "$TARGET" ] || [ -z "$BUNDLE" ]; then
    usage >&2
    die "need USER@BOARD and BUNDLE_DIR"
fi
[ -d "$BUNDLE" ] || die "$BUNDLE is not a folder"
[ -f "$BUNDLE/manifest.json" ] || die "$BUNDLE has no manifest.json; is it a bundle? (edge-app export writes one)"

SSH_OPTS=()
read -r -a SSH_OPTS <<<"$SSH_OPTS_STR" || true

if [ -n "$SIGN_KEY" ]; then
    [ -f "$SIGN_KEY" ] || die "--sign-key $SIGN_KEY: no such file (make one with: edge-app keygen --out keys)"
    if [ "$DRY_RUN" = 1 ]; then
        printf '+ %q sign %q --key %q\n' "$LOCAL_EDGE_APP" "$BUNDLE" "$SIGN_KEY"
    else
        [ -x "$LOCAL_EDGE_APP" ] || command -v "$LOCAL_EDGE_APP" >/dev/null 2>&1 ||
            die "edge-app is not installed here ($LOCAL_EDGE_APP); pip install -e . or set PUSH_EDGE_APP"
        "$LOCAL_EDGE_APP" sign "$BUNDLE" --key "$SIGN_KEY" || die "signing $BUNDLE failed; nothing was pushed"
    fi
fi

if command -v sha256sum >/dev/null 2>&1; then
    SHA=$(sha256sum "$BUNDLE/manifest.json" | cut -c1-64)
else # macOS
    SHA=$(shasum -a 256 "$BUNDLE/manifest.json" | cut -c1-64)
fi
NAME="${SHA:0:12}-$(date -u +%Y%m%dT%H%M%SZ)"
STAGE=".edge-app-push/$NAME" # relative to the SSH user's home on the board
FINAL="$REMOTE_BUNDLES/$NAME"

# Runs on the board, as the SSH user, with: STAGE FINAL BUNDLES EDGE_APP SERVICE_USER TRUSTED_KEYS.
# shellcheck disable=SC2016 # expanded on the board, not here
REMOTE_SCRIPT='set -eu
stage=$1 final=$2 bundles=$3 edge_app=$4 service_user=$5 keys=$6
if [ "$(id -un)" = "$service_user" ]; then S=""; AS=""
elif [ "$(id -u)" = 0 ]; then S=""; AS="runuser -u $service_user --"
else S="sudo -n"; AS="sudo -n -u $service_user"; fi
$S true 2>/dev/null || { echo "push: $(id -un) needs passwordless sudo on $(hostname) (or push as root)" >&2; exit 1; }
[ -x "$edge_app" ] || { echo "push: $edge_app missing on $(hostname); run deploy/install.sh there first" >&2; rm -rf "$stage"; exit 1; }
$S mkdir -p "$bundles"
if [ -e "$final" ]; then
    echo "push: $final already exists (the same bundle pushed twice within a second?)" >&2
    rm -rf "$stage"
    exit 1
fi
$S mv -T "$stage" "$final"
rmdir "$(dirname "$stage")" 2>/dev/null || true
$S chown -R "$service_user:" "$final"
set --
if ls "$keys"/*.pub >/dev/null 2>&1; then
    set -- --trusted-keys "$keys"
    echo "push: $(hostname) trusts the signing keys in $keys: the bundle must be signed by one of them"
fi
echo "push: verifying $final"
if ! $AS "$edge_app" verify "$final" "$@"; then
    echo "push: verify failed; removing $final, current left as it was" >&2
    [ $# -eq 0 ] || echo "push: sign it on the workstation (edge-app sign BUNDLE --key KEY, or push.sh --sign-key KEY) with a key $(hostname) trusts" >&2
    $S rm -rf "$final"
    exit 3
fi
previous=$(readlink "$bundles/current" 2>/dev/null || true)
$S ln -sfn "$(basename "$final")" "$bundles/.current.tmp"
$S mv -T "$bundles/.current.tmp" "$bundles/current"
echo "push: current -> $(basename "$final")${previous:+ (was $previous)}"
if systemctl is-active --quiet edge-app; then
    $S systemctl reload edge-app
    echo "push: edge-app reloaded; check it took: journalctl -u edge-app -n 20"
else
    echo "push: edge-app is not running; it serves this bundle once started: sudo systemctl start edge-app"
fi
if [ -n "$previous" ]; then
    echo "push: roll back with: sudo ln -sfn $previous $bundles/.current.tmp && sudo mv -T $bundles/.current.tmp $bundles/current && sudo systemctl reload edge-app"
fi'

# show CMD...: print a command the way a shell would read it back.
show() {
    local out="" arg
    for arg in "$@"; do
        out+=" $(printf '%q' "$arg")"
    done
    printf '+%s\n' "$out"
}

# do_run CMD...: run, or print under --dry-run.
do_run() {
    if [ "$DRY_RUN" = 1 ]; then
        show "$@"
    else
        "$@"
    fi
}

echo "push: $BUNDLE -> $TARGET:$FINAL (manifest sha256 $SHA)"
do_run ssh ${SSH_OPTS[@]+"${SSH_OPTS[@]}"} "$TARGET" "mkdir -p .edge-app-push"
if command -v rsync >/dev/null 2>&1; then
    do_run rsync -a --partial -e "ssh ${SSH_OPTS_STR}" -- "${BUNDLE%/}/" "$TARGET:$STAGE/"
else
    do_run scp -r -q ${SSH_OPTS[@]+"${SSH_OPTS[@]}"} -- "${BUNDLE%/}" "$TARGET:$STAGE"
fi

if [ "$DRY_RUN" = 1 ]; then
    show ssh ${SSH_OPTS[@]+"${SSH_OPTS[@]}"} "$TARGET" sh -s -- "$STAGE" "$FINAL" "$REMOTE_BUNDLES" "$REMOTE_EDGE_APP" "$SERVICE_USER" "$REMOTE_TRUSTED_KEYS"
    echo "# with this script on stdin:"
    printf '%s\n' "$REMOTE_SCRIPT" | sed 's/^/    /'
    exit 0
fi

rc=0
printf '%s\n' "$REMOTE_SCRIPT" |
    ssh ${SSH_OPTS[@]+"${SSH_OPTS[@]}"} "$TARGET" sh -s -- "$STAGE" "$FINAL" "$REMOTE_BUNDLES" "$REMOTE_EDGE_APP" "$SERVICE_USER" "$REMOTE_TRUSTED_KEYS" || rc=$?
if [ "$rc" -ne 0 ]; then
    # The remote side cleans up after a failed verify; after an earlier failure the staging
    # copy may still be there.
    # shellcheck disable=SC2029 # STAGE is ours: <hex>-<time>, nothing to escape
    ssh ${SSH_OPTS[@]+"${SSH_OPTS[@]}"} "$TARGET" "rm -rf '$STAGE'" >/dev/null 2>&1 || true
    die "push failed (exit $rc); current on $TARGET is unchanged"
fi
