#!/usr/bin/env bash
# Installs the real client programs the integration tests drive, cached OUTSIDE the clone so a
# second run on the same machine costs nothing:
#
#   Home Assistant 2025.4.4 (PyPI) in  $CACHE/homeassistant-2025.4.4   (a Python 3.13 venv)
#   Node-RED 4.1 (npm)              in  $CACHE/node-red-4.1              (node_modules/.bin/node-red)
#
# CACHE is $EDGE_APP_CLIENT_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/edge-app.
# Usage: tests/clients/install.sh [homeassistant|node-red|all]
# Each part that cannot be installed prints one line "SKIP <program>: <why>" and the script goes on;
# the tests skip with that reason (they read $CACHE/<program>.skip). Exit status is 0 unless the
# script itself is broken.
set -uo pipefail

HA_VERSION="2025.4.4"        # newest Home Assistant that installs from PyPI on Python 3.13.0
# What its Wyoming integration (Assist through edge-app) and that integration's dependencies pin, installed
# up front: Home Assistant would otherwise install them at run time with uv, which ignores pip's index config.
HA_ASSIST_REQUIREMENTS=(wyoming==1.5.4 pymicro-vad==1.0.1 pyspeex-noise==1.0.2 ha-ffmpeg==3.2.2)
NODE_RED_VERSION="4.1"       # npm range: the newest 4.1.x
CACHE="${EDGE_APP_CLIENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-app}"
mkdir -p "$CACHE"

say() { printf '==> %s\n' "$*" >&2; }

skip() {  # skip PROGRAM REASON: one clear line, remembered for the tests
    printf 'SKIP %s: %s\n' "$1" "$2" >&2
    printf '%s\n' "$2" >"$CACHE/$1.skip"
}

find_python313() {
    # Home Assistant 2025.4 needs Python 3.13: $HA_PYTHON, pyenv's 3.13.x, then python3.13 on PATH (Debian trixie).
    local candidate root
    if [[ -n "${HA_PYTHON:-}" ]]; then printf '%s\n' "$HA_PYTHON"; return 0; fi
    if command -v pyenv >/dev/null 2>&1 && root="$(pyenv root 2>/dev/null)"; then
        for candidate in "$root"/versions/3.13*/bin/python3.13; do
            [[ -x "$candidate" ]] && { printf '%s\n' "$candidate"; return 0; }
        done
    fi
    for candidate in "$HOME"/.pyenv/versions/3.13*/bin/python3.13 python3.13; do
        if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return 0; fi
    done
    return 1
}

ensure_homeassistant() {
    local dir="$CACHE/homeassistant-$HA_VERSION" python
    rm -f "$CACHE/homeassistant.skip"
    if [[ -x "$dir/bin/hass" && -f "$dir/.installed" ]]; then
        ensure_assist_requirements "$dir"
        return 0
    fi
    if ! python="$(find_python313)"; then
        skip homeassistant "Home Assistant $HA_VERSION needs Python 3.13 (pyenv install 3.13.0, or HA_PYTHON=/path/to/python3.13); none found"
        return 0
    fi
    say "installing Home Assistant $HA_VERSION with $("$python" --version 2>&1) into $dir (about 5 minutes, once)"
    rm -rf "$dir"
    if ! "$python" -m venv "$dir" \
        || ! "$dir/bin/pip" install -q --disable-pip-version-check "homeassistant==$HA_VERSION" \
        || ! "$dir/bin/pip" install -q --disable-pip-version-check "paho-mqtt==2.1.0"; then  # what its MQTT integration pins
        rm -rf "$dir"
        skip homeassistant "pip could not install homeassistant==$HA_VERSION with $python (see the pip output above)"
        return 0
    fi
    touch "$dir/.installed"
    ensure_assist_requirements "$dir"
}

ensure_assist_requirements() {  # DIR: an installed Home Assistant venv
    local dir="$1"
    rm -f "$CACHE/homeassistant-assist.skip"
    [[ -f "$dir/.assist-installed" ]] && return 0
    say "installing what Home Assistant's Wyoming integration needs: ${HA_ASSIST_REQUIREMENTS[*]}"
    if ! "$dir/bin/pip" install -q --disable-pip-version-check "${HA_ASSIST_REQUIREMENTS[@]}"; then
        skip homeassistant-assist "pip could not install ${HA_ASSIST_REQUIREMENTS[*]} into $dir (see the pip output above)"
        return 0
    fi
    touch "$dir/.assist-installed"
}

ensure_node_red() {
    local dir="$CACHE/node-red-$NODE_RED_VERSION"
    rm -f "$CACHE/node-red.skip"
    if [[ -x "$dir/node_modules/.bin/node-red" && -f "$dir/.installed" ]]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
        skip node-red "Node-RED $NODE_RED_VERSION needs node 18+ and npm (apt-get install nodejs npm); not found"
        return 0
    fi
    say "installing Node-RED $NODE_RED_VERSION with node $(node --version) into $dir (about a minute, once)"
    rm -rf "$dir"
    mkdir -p "$dir"
    if ! (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "node-red@~$NODE_RED_VERSION" >&2); then
        rm -rf "$dir"
        skip node-red "npm could not install node-red@~$NODE_RED_VERSION (see the npm output above)"
        return 0
    fi
    touch "$dir/.installed"
}

case "${1:-all}" in
    homeassistant) ensure_homeassistant ;;
    node-red) ensure_node_red ;;
    all) ensure_homeassistant; ensure_node_red ;;
    *) echo "usage: $0 [homeassistant|node-red|all]" >&2; exit 2 ;;
esac
exit 0
