#!/usr/bin/env bash
# Install (if missing) Debian's headless Chromium + chromedriver for the browser
# tests of the HTML maps, and a CJK font (Noto Sans CJK) so Chinese map exports
# are tested too.
#
# Idempotent: every package is checked first; apt-get runs only when something
# is missing. Needs root on Debian bookworm (CI and the dev machines are).
set -euo pipefail

SCRIPT=chromium.sh
# shellcheck source=.ci/lib.sh
. "$(dirname "$0")/lib.sh"
require_root "installs Debian packages"

install_missing chromium chromium-driver fonts-noto-cjk
if [ "${#MISSING[@]}" -gt 0 ]; then
    # Matplotlib and Chromium find new fonts through fontconfig's cache.
    fc-cache -f >/dev/null 2>&1 || true
fi
say "$(chromium --version 2>/dev/null || echo 'chromium: not on PATH')"
say "$(chromedriver --version 2>/dev/null || echo 'chromedriver: not on PATH')"
