#!/usr/bin/env bash
# What `make bench` needs beyond the dev extra's PyPI packages:
#   ab (ApacheBench), Debian's `apache2-utils`: the load generator in C. A Python one tops
#   out near 120 requests/s on a small machine and would measure itself, not the services.
#   wrk, Debian's `wrk`: the reads' generator, over kept-alive HTTP/1.1 connections (ab's
#   HTTP/1.0 is never kept alive by uvicorn, so each of its requests is a new connection).
# Does nothing when it is there; installs it when run as root; otherwise says what to run
# and exits 1.
set -euo pipefail

if command -v ab >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1; then
    exit 0
fi

if [ "${EUID}" -ne 0 ]; then
    echo "性能测试需要 apache2-utils (ab) 和 wrk，请以 root 运行 / The benchmarks need apache2-utils (ab) and wrk; run as root:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends apache2-utils wrk" >&2
    exit 1
fi

echo "installing apache2-utils (ab) and wrk for the benchmarks"
export DEBIAN_FRONTEND=noninteractive
# Another apt run on the same machine holds the dpkg lock for a while: wait for it.
apt_get=(apt-get -o DPkg::Lock::Timeout=600 -q)
"${apt_get[@]}" update
"${apt_get[@]}" install -y --no-install-recommends apache2-utils wrk

if ! command -v ab >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1; then
    echo "installed apache2-utils and wrk, yet ab or wrk is still missing" >&2
    exit 1
fi
