#!/bin/sh
# A private CA and the server certificates of the compose deployment (NATS and PostgreSQL),
# made with openssl into deploy/tls/out/ (kept out of git):
#
#   out/ca.crt, out/ca.key                       the CA (10 years); ca.key signs, keep it safe
#   out/nats/{ca.crt,tls.crt,tls.key}            every NATS node, clients and routes alike
#   out/postgres/{ca.crt,tls.crt,tls.key}        the PostgreSQL server
#
# The file names are those cert-manager gives a Certificate's Secret, so Kubernetes mounts
# either the same way. Server certificates last CERT_DAYS (397 days by default) and must be
# renewed before then: `make-certs.sh --renew` issues new ones from the same CA, which the
# services keep trusting (deploy/runbook/tls.md). Run again, it makes only what is missing;
# `--force` replaces everything, the CA too, after which every client needs the new ca.crt.
#
# Extra names (Kubernetes, another host name) go in NATS_EXTRA_SANS and
# POSTGRES_EXTRA_SANS, as openssl writes them: "DNS:*.nats.leads.svc,IP:10.0.0.5".
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out="$here/out"
mode=missing
ca_days=${CA_DAYS:-3650}
cert_days=${CERT_DAYS:-397}
nats_sans="DNS:nats-1,DNS:nats-2,DNS:nats-3,DNS:nats,DNS:localhost,IP:127.0.0.1"
postgres_sans="DNS:postgres,DNS:localhost,IP:127.0.0.1"

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    echo
    echo "usage: $0 [--out DIR] [--renew | --force]"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --out) [ $# -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift ;;
        --renew) mode=renew ;;
        --force) mode=force ;;
        -h | --help) usage; exit 0 ;;
        *) echo "make-certs.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

case "$ca_days$cert_days" in
    *[!0-9]*) echo "make-certs.sh: CA_DAYS and CERT_DAYS are whole numbers of days" >&2; exit 2 ;;
esac
command -v openssl >/dev/null || { echo "make-certs.sh: openssl is not installed" >&2; exit 1; }

# Keys are written readable by their owner only.
umask 077
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

make_ca() {
    cat >"$work/ca.cnf" <<EOF
[req]
distinguished_name = dn
x509_extensions = ca
prompt = no
[dn]
CN = leads private CA
[ca]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/ca.key" 2>/dev/null
    openssl req -x509 -new -config "$work/ca.cnf" -key "$out/ca.key" -sha256 \
        -days "$ca_days" -out "$out/ca.crt"
    chmod 0644 "$out/ca.crt"
    echo "made the CA: $out/ca.crt (valid $ca_days days)"
}

# issue NAME SANS: a key and a certificate for one server, signed by the CA. Usable at both
# ends of a connection (serverAuth and clientAuth): a NATS route is dialled by one node and
# answered by another, each presenting this certificate.
issue() {
    name=$1
    sans=$2
    dir="$out/$name"
    mkdir -p "$dir"
    chmod 0755 "$dir" # certificates are public; the key alone is the owner's
    cat >"$work/$name.ext" <<EOF
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $sans
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/tls.key" 2>/dev/null
    openssl req -new -key "$dir/tls.key" -subj "/CN=$name" -out "$work/$name.csr"
    openssl x509 -req -in "$work/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days "$cert_days" -sha256 \
        -extfile "$work/$name.ext" -out "$dir/tls.crt" 2>/dev/null
    cp "$out/ca.crt" "$dir/ca.crt"
    chmod 0600 "$dir/tls.key"
    chmod 0644 "$dir/tls.crt" "$dir/ca.crt"
    openssl verify -CAfile "$out/ca.crt" "$dir/tls.crt" >/dev/null
    echo "issued $name: $dir/tls.crt for $sans (valid $cert_days days)"
}

if [ "$mode" = force ] || [ ! -s "$out/ca.key" ] || [ ! -s "$out/ca.crt" ]; then
    if [ "$mode" != force ] && { [ -e "$out/ca.crt" ] || [ -e "$out/ca.key" ]; }; then
        echo "make-certs.sh: $out holds half a CA (ca.crt or ca.key missing): use --force to" \
            "make a new one (every client then needs the new ca.crt)" >&2
        exit 1
    fi
    make_ca
    mode=force # a new CA: every certificate must come from it
fi

for server in nats postgres; do
    case "$server" in
        nats) sans="$nats_sans${NATS_EXTRA_SANS:+,$NATS_EXTRA_SANS}" ;;
        postgres) sans="$postgres_sans${POSTGRES_EXTRA_SANS:+,$POSTGRES_EXTRA_SANS}" ;;
    esac
    if [ "$mode" = missing ] && [ -s "$out/$server/tls.crt" ] && [ -s "$out/$server/tls.key" ]; then
        until=$(openssl x509 -in "$out/$server/tls.crt" -noout -enddate | cut -d= -f2)
        echo "kept $server: $out/$server/tls.crt exists, valid until $until (--renew for a new one)"
        if ! openssl x509 -in "$out/$server/tls.crt" -noout -checkend $((30 * 86400)) >/dev/null; then
            echo "make-certs.sh: $server's certificate ends within 30 days: run with --renew" >&2
        fi
        continue
    fi
    issue "$server" "$sans"
done
