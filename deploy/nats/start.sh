#!/bin/sh
# Starts one cluster node (compose and Kubernetes both run this). nats-server would accept
# passwords it should not: an empty one lets anyone in as that user, the placeholder is
# public, and anything but a letter followed by letters and digits may be parsed as a
# number, a size or a broken value (see auth.conf). Refuse them here, by name.
set -eu
for name in NATS_INTAKE_PASSWORD NATS_LEDGER_PASSWORD NATS_OVERSIGHT_PASSWORD \
    NATS_LEADCTL_PASSWORD NATS_ADMIN_PASSWORD; do
    eval "value=\${$name:-}"
    case "$value" in
        "" | changethis | [!A-Za-z]* | *[!A-Za-z0-9]*)
            echo "refusing to start: $name must be a letter followed by letters and digits, not empty or the placeholder" >&2
            exit 1
            ;;
    esac
done
# JetStream's store and TLS for clients and routes (cluster-node.conf): the mounted volume
# and certificate, unless the environment names others.
export NATS_STORE_DIR="${NATS_STORE_DIR:-/data}"
export NATS_TLS_CERT="${NATS_TLS_CERT:-/etc/nats/tls/tls.crt}"
export NATS_TLS_KEY="${NATS_TLS_KEY:-/etc/nats/tls/tls.key}"
export NATS_TLS_CA="${NATS_TLS_CA:-/etc/nats/tls/ca.crt}"
for file in "$NATS_TLS_CERT" "$NATS_TLS_KEY" "$NATS_TLS_CA"; do
    if [ ! -r "$file" ]; then
        echo "refusing to start: $file is missing or unreadable (mount the nats TLS certificate: deploy/runbook/tls.md)" >&2
        exit 1
    fi
done
exec nats-server --config "${NATS_CONFIG:-/etc/nats/cluster-node.conf}" "$@"
