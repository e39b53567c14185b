#!/usr/bin/env bash
# What the deployment checks (tests/deploy) need beyond the dev extra's PyPI packages
# (hadolint, kubectl, kubernetes-validate, check-jsonschema come from there):
#   promtool, to check the Prometheus alert rules: Debian's `prometheus` package.
#   openssl, which deploy/tls/make-certs.sh uses to make the private CA and certificates.
# Does nothing when all are there; installs the missing ones when run as root; otherwise
# says what to run and exits 1.
set -euo pipefail

declare -A package_of=([promtool]=prometheus [openssl]=openssl)
missing=()
for command in "${!package_of[@]}"; do
    if ! command -v "$command" >/dev/null 2>&1; then
        missing+=("${package_of[$command]}")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "${EUID}" -ne 0 ]; then
    echo "部署检查需要 ${missing[*]}，请以 root 运行 / The deployment checks need ${missing[*]}; run as root:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "installing ${missing[*]} for the deployment checks"
export DEBIAN_FRONTEND=noninteractive
# Another apt run on the same machine holds the dpkg lock for a while: wait for it.
apt_get=(apt-get -o DPkg::Lock::Timeout=600 -q)
"${apt_get[@]}" update
# The prometheus package would start a Prometheus server where systemd runs; only its
# promtool is wanted here, and policy-rc.d keeps any service from being started.
policy=/usr/sbin/policy-rc.d
made_policy=false
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    made_policy=true
fi
trap 'if [ "$made_policy" = true ]; then rm -f "$policy"; fi' EXIT
"${apt_get[@]}" install -y --no-install-recommends "${missing[@]}"

for command in "${!package_of[@]}"; do
    if ! command -v "$command" >/dev/null 2>&1; then
        echo "installed ${missing[*]}, yet $command is still missing" >&2
        exit 1
    fi
done
