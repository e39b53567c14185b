#!/usr/bin/env bash
# What the browser tests (tests/browser) need from the system: Debian's Chromium, which
# Playwright drives through its executable path (Playwright's own browser download is not
# used), and a CJK font so that Chinese text renders in screenshots instead of boxes.
# Does nothing when both are there; installs them when run as root; otherwise says what to run
# and exits 1.
set -euo pipefail

packages=(chromium fonts-noto-cjk fontconfig)

have_chromium() { command -v chromium >/dev/null 2>&1; }
have_cjk_font() { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family)" ]; }

if have_chromium && have_cjk_font; then
    exit 0
fi

if [ "${EUID}" -ne 0 ]; then
    echo "浏览器测试需要 Chromium 与中文字体，请以 root 运行 / The browser tests need Chromium and a CJK font; run as root:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends ${packages[*]}" >&2
    exit 1
fi

echo "installing ${packages[*]} for the browser tests"
export DEBIAN_FRONTEND=noninteractive
# Another apt run on the same machine holds the dpkg lock for a while: wait for it.
apt_get=(apt-get -o DPkg::Lock::Timeout=600 -q)
"${apt_get[@]}" update
"${apt_get[@]}" install -y --no-install-recommends "${packages[@]}"

if ! have_chromium || ! have_cjk_font; then
    echo "installed ${packages[*]}, yet chromium or a CJK font is still missing" >&2
    exit 1
fi
