#!/bin/sh
# `nats-server -t` on every NATS config of the repository, as the nodes would load it: with
# every variable they read set, and a certificate made for the purpose (cluster-node.conf
# loads its TLS files while parsing). Usage: check-configs.sh [NATS_SERVER_BINARY]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
server=${1:-nats-server}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$here/../tls/make-certs.sh" --out "$work/tls" >/dev/null
export NATS_SERVER_NAME=check NATS_ROUTES="[nats://nats-2:6222, nats://nats-3:6222]"
export NATS_TLS_CERT="$work/tls/nats/tls.crt" NATS_TLS_KEY="$work/tls/nats/tls.key"
export NATS_TLS_CA="$work/tls/nats/ca.crt" NATS_STORE_DIR="$work/store"
for user in INTAKE LEDGER OVERSIGHT LEADCTL ADMIN; do
    export "NATS_${user}_PASSWORD=p$(openssl rand -hex 16)"
done
for config in "$here/cluster-node.conf" "$here/embedded.conf"; do
    "$server" -t -c "$config"
done
