#!/bin/sh
# Starts the deployed PostgreSQL (the postgres image's own entrypoint) with TLS required on
# every network connection. Compose runs it as the container's command, with the server
# certificate mounted at /etc/postgres/tls/{tls.crt,tls.key} (deploy/tls/out/postgres/) and
# pg_hba.conf at /etc/postgres/pg_hba.conf. Extra arguments go to the server.
#
# PostgreSQL reads its key only when its own user owns it and nobody else may read it; a
# mounted file belongs to whoever made it on the host, so a copy is made for the server.
set -eu
from=${POSTGRES_TLS_DIR:-/etc/postgres/tls}
to=${POSTGRES_TLS_COPY:-/var/lib/postgresql/tls}
hba=${POSTGRES_HBA_FILE:-/etc/postgres/pg_hba.conf}
for file in "$from/tls.crt" "$from/tls.key" "$hba"; do
    if [ ! -r "$file" ]; then
        echo "refusing to start: $file is missing or unreadable (mount the postgres TLS certificate: deploy/runbook/tls.md)" >&2
        exit 1
    fi
done
mkdir -p "$to"
cp "$from/tls.crt" "$from/tls.key" "$to/"
if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$to"
fi
chmod 0700 "$to"
chmod 0600 "$to/tls.key"
exec docker-entrypoint.sh postgres \
    -c ssl=on \
    -c "ssl_cert_file=$to/tls.crt" \
    -c "ssl_key_file=$to/tls.key" \
    -c ssl_min_protocol_version=TLSv1.2 \
    -c "hba_file=$hba" \
    -c password_encryption=scram-sha-256 \
    "$@"
