# Shared helpers for the .ci install scripts; source it, do not run it.
#   SCRIPT=name; . "$(dirname "$0")/lib.sh"
# `say` prefixes messages with the script's name; `require_root` stops
# non-root runs; `install_missing PKG...` installs only the Debian packages not
# yet installed and prints (in MISSING) what it installed.

say() { echo "[${SCRIPT}] $*"; }

require_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "[${SCRIPT}] error: must run as root ($1)" >&2
        exit 1
    fi
}

# Sets MISSING to the packages it installed (empty when all were present), so
# the caller can do follow-up work only after a real install.
install_missing() {
    MISSING=()
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            MISSING+=("$pkg")
        fi
    done
    if [ "${#MISSING[@]}" -gt 0 ]; then
        say "installing: ${MISSING[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${MISSING[@]}" >/dev/null
        say "installed: ${MISSING[*]}"
    else
        say "already installed: $*"
    fi
}
