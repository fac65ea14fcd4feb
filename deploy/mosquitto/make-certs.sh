#!/usr/bin/env bash
# Make a small private CA and a server certificate for mosquitto's TLS listener (port 8883).
#
#   sudo deploy/mosquitto/make-certs.sh board.local 192.168.1.20
#
# writes, in /etc/mosquitto/certs (or --out DIR):
#   ca.key       the CA's private key: keep it there or move it somewhere safe
#   ca.crt       the CA certificate: copy it to every client (mqtt.ca_file, mosquitto_pub --cafile)
#   server.key   mosquitto's private key (mode 0640, group mosquitto when that group exists)
#   server.crt   mosquitto's certificate, valid for every NAME given (DNS names or IP addresses)
# An existing CA is kept, so running it again (to add a name, or renew) does not invalidate
# the ca.crt clients already have. Needs openssl (1.1.1 or 3.x).
set -euo pipefail

PROG=$(basename "$0")
OUT=/etc/mosquitto/certs
DAYS=825 # Apple platforms reject server certificates valid for longer
CA_DAYS=3650

usage() {
    cat <<EOF
Usage: $PROG [--out DIR] [--days N] NAME [NAME...]

Create (or keep) a CA in DIR and issue a server certificate for the NAMEs: the board's DNS
names and/or IP addresses, as clients will write them in mqtts://NAME:8883. The first NAME
is also the certificate's common name.

Options:
  --out DIR    where to write (default /etc/mosquitto/certs)
  --days N     server certificate validity in days (default $DAYS)
  -h, --help   show this help
EOF
}
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

NAMES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --out)
            [ $# -ge 2 ] || die "--out needs a directory"
            OUT=$2
            shift 2
            ;;
        --days)
            [ $# -ge 2 ] || die "--days needs a number"
            DAYS=$2
            shift 2
            ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option: $1" ;;
        *) NAMES+=("$1"); shift ;;
    esac
done
[ ${#NAMES[@]} -gt 0 ] || { usage >&2; die "give at least one NAME (the board's host name or IP)"; }
command -v openssl >/dev/null 2>&1 || die "openssl not found: sudo apt-get install openssl"

san=""
for name in "${NAMES[@]}"; do
    if [[ $name =~ ^[0-9]+(\.[0-9]+){3}$ || $name == *:* ]]; then
        san+="${san:+,}IP:$name"
    else
        san+="${san:+,}DNS:$name"
    fi
done

mkdir -p -- "$OUT"
cd -- "$OUT"
umask 077

if [ -f ca.key ] && [ -f ca.crt ]; then
    echo "keeping the CA in $OUT (ca.key, ca.crt)"
else
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout ca.key -out ca.crt -days "$CA_DAYS" -subj "/CN=edge-app MQTT CA" 2>/dev/null
    chmod 0644 ca.crt
    echo "created the CA: $OUT/ca.crt (give it to clients), $OUT/ca.key (keep it secret)"
fi

tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT
cat >"$tmp/ext.cnf" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
EOF
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$tmp/server.key" -out "$tmp/server.csr" -subj "/CN=${NAMES[0]}" 2>/dev/null
openssl x509 -req -in "$tmp/server.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out "$tmp/server.crt" -days "$DAYS" -extfile "$tmp/ext.cnf" 2>/dev/null
openssl verify -CAfile ca.crt "$tmp/server.crt" >/dev/null

install -m 0644 "$tmp/server.crt" server.crt
install -m 0640 "$tmp/server.key" server.key
if [ "$(id -u)" = 0 ] && getent group mosquitto >/dev/null; then
    chgrp mosquitto server.key # readable by mosquitto after it drops root
fi
echo "created $OUT/server.crt for $san (valid $DAYS days) and $OUT/server.key"
