#!/usr/bin/env bash
# Install (if missing) Debian's headless Chromium + chromedriver for the browser
# tests of the HTML maps, and a CJK font (Noto Sans CJK) so Chinese map exports
# are tested too.
#
# Idempotent: every package is checked first; apt-get runs only when something
# is missing. Needs root on Debian bookworm (CI and the dev machines are).
set -euo pipefail

say() { echo "[chromium.sh] $*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "[chromium.sh] error: must run as root (installs Debian packages)" >&2
    exit 1
fi

need=()
for pkg in chromium chromium-driver fonts-noto-cjk; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        need+=("$pkg")
    fi
done
if [ "${#need[@]}" -gt 0 ]; then
    say "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # Matplotlib and Chromium find new fonts through fontconfig's cache.
    fc-cache -f >/dev/null 2>&1 || true
    say "installed: ${need[*]}"
else
    say "already installed: chromium, chromium-driver, fonts-noto-cjk"
fi
say "$(chromium --version 2>/dev/null || echo 'chromium: not on PATH')"
say "$(chromedriver --version 2>/dev/null || echo 'chromedriver: not on PATH')"
