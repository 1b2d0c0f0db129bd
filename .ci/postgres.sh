#!/usr/bin/env bash
# Install (if missing) and start a local PostgreSQL 15 with PostGIS 3 for the
# scenario-store tests, listening on 127.0.0.1 only.
#
# Idempotent: run it as often as you like; every step checks first and says
# what it did. Needs root on Debian bookworm (CI and the dev machines are).
#
# Afterwards the test suite reaches the database at
#   LIFECIRCLE_TEST_PG_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/lifecircle_test
# (the default of the `store` fixture in tests/test_store.py), with trust
# authentication for the `postgres` role on loopback, for that database only.
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PG_PORT="${PG_PORT:-5432}"
PG_DB="${LIFECIRCLE_PG_DB:-lifecircle_test}"
PG_USER=postgres

SCRIPT=postgres.sh
# shellcheck source=.ci/lib.sh
. "$(dirname "$0")/lib.sh"
as_pg() { runuser -u postgres -- "$@"; }
require_root "installs Debian packages and manages the cluster"

# 1. Packages -----------------------------------------------------------------
install_missing postgresql "postgresql-${PG_VERSION}" "postgresql-${PG_VERSION}-postgis-3"

# 2. Cluster --------------------------------------------------------------------
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "${PG_VERSION} ${PG_CLUSTER}"; then
    say "creating cluster ${PG_VERSION}/${PG_CLUSTER} on port ${PG_PORT}"
    pg_createcluster "${PG_VERSION}" "${PG_CLUSTER}" --port "${PG_PORT}" >/dev/null
fi
CONF_DIR="/etc/postgresql/${PG_VERSION}/${PG_CLUSTER}"

# Loopback only: nothing outside this machine may reach the test database.
mkdir -p "${CONF_DIR}/conf.d"
conf="${CONF_DIR}/conf.d/lifecircle.conf"
want_conf="listen_addresses = '127.0.0.1'
port = ${PG_PORT}"
restart=no
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want_conf" ]; then
    printf '%s\n' "$want_conf" >"$conf"
    restart=yes  # listen_addresses and port only change on a restart
    chown postgres:postgres "$conf"
    say "wrote $conf (listen on 127.0.0.1:${PG_PORT} only)"
fi

# pg_hba.conf is first-match: our trust lines must come before the defaults.
hba="${CONF_DIR}/pg_hba.conf"
marker="# lifecircle test database (added by .ci/postgres.sh)"
if ! grep -qF "$marker" "$hba"; then
    tmp="$(mktemp)"
    {
        echo "$marker"
        echo "host    ${PG_DB}    ${PG_USER}    127.0.0.1/32    trust"
        echo "host    ${PG_DB}    ${PG_USER}    ::1/128         trust"
        cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba"
    rm -f "$tmp"
    say "pg_hba.conf: trust for role ${PG_USER} on database ${PG_DB} from loopback"
fi

# 3. Start (or reload to pick up the configuration) ------------------------------
if pg_lsclusters -h | awk -v v="${PG_VERSION}" -v c="${PG_CLUSTER}" '$1==v && $2==c {print $4}' | grep -q online; then
    if [ "$restart" = yes ]; then
        pg_ctlcluster "${PG_VERSION}" "${PG_CLUSTER}" restart
        say "cluster ${PG_VERSION}/${PG_CLUSTER} was running; restarted it to listen on 127.0.0.1:${PG_PORT}"
    else
        pg_ctlcluster "${PG_VERSION}" "${PG_CLUSTER}" reload
        say "cluster ${PG_VERSION}/${PG_CLUSTER} already running; reloaded its configuration"
    fi
else
    pg_ctlcluster "${PG_VERSION}" "${PG_CLUSTER}" start
    say "started cluster ${PG_VERSION}/${PG_CLUSTER}"
fi
for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "${PG_PORT}" && break
    sleep 0.5
done
pg_isready -h 127.0.0.1 -p "${PG_PORT}" >/dev/null || {
    echo "[postgres.sh] error: PostgreSQL did not come up on 127.0.0.1:${PG_PORT}" >&2
    exit 1
}

# 4. Database and PostGIS -------------------------------------------------------------
if [ "$(as_pg psql -p "${PG_PORT}" -tAc "SELECT 1 FROM pg_database WHERE datname = '${PG_DB}'")" != "1" ]; then
    as_pg createdb -p "${PG_PORT}" "${PG_DB}"
    say "created database ${PG_DB}"
fi
PGOPTIONS="-c client_min_messages=warning" as_pg psql -p "${PG_PORT}" -q -d "${PG_DB}" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
postgis="$(as_pg psql -p "${PG_PORT}" -d "${PG_DB}" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'postgis'")"
say "database ${PG_DB} has PostGIS ${postgis}"

url="postgresql+psycopg2://${PG_USER}@127.0.0.1:${PG_PORT}/${PG_DB}"
psql "postgresql://${PG_USER}@127.0.0.1:${PG_PORT}/${PG_DB}" -tAc "SELECT 1" >/dev/null
say "ready: LIFECIRCLE_TEST_PG_URL=${url}"
