#!/usr/bin/env bash
# Lighthouse, which tests/browser/test_lighthouse.py runs against the services' pages in
# Debian's Chromium, installed from npm into var/node (not committed), at one pinned version
# so that every run scores the pages by the same audits.
# Does nothing when that version is there. Needs node (>= 18.16, Lighthouse 12's floor; 13
# needs node 22) and npm with the registry reachable; otherwise says what is missing and
# exits 1 (make test goes on without it, and the Lighthouse test skips, saying why, unless
# CI=true).
set -euo pipefail

VERSION=12.8.2
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${root}/var/node"
installed="${prefix}/node_modules/lighthouse/package.json"

installed_version() {
    [ -f "${installed}" ] && node -p "require(process.argv[1]).version" "${installed}" 2>/dev/null
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "Lighthouse 测试需要 node 与 npm / the Lighthouse test needs node and npm (node >= 18.16)" >&2
    exit 1
fi

if [ "$(installed_version || true)" = "${VERSION}" ] && [ -x "${prefix}/node_modules/.bin/lighthouse" ]; then
    exit 0
fi

node_version="$(node -p "process.versions.node")"
if ! node -e '
    const [major, minor] = process.versions.node.split(".").map(Number);
    process.exit(major > 18 || (major === 18 && minor >= 16) ? 0 : 1);
'; then
    echo "Lighthouse ${VERSION} needs node >= 18.16; this node is ${node_version}" >&2
    exit 1
fi

echo "installing lighthouse@${VERSION} into var/node for the Lighthouse test (node ${node_version})"
mkdir -p "${prefix}"
# A package.json of its own keeps npm from walking up to look for one, and records the pin.
if [ ! -f "${prefix}/package.json" ]; then
    printf '{\n  "private": true,\n  "description": "tools/install-lighthouse.sh"\n}\n' \
        >"${prefix}/package.json"
fi
npm install --prefix "${prefix}" --save-exact --no-audit --no-fund --loglevel=error \
    "lighthouse@${VERSION}"

if [ "$(installed_version || true)" != "${VERSION}" ]; then
    echo "npm ran, yet lighthouse@${VERSION} is not in var/node" >&2
    exit 1
fi
