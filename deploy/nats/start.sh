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
exec nats-server --config /etc/nats/cluster-node.conf "$@"
