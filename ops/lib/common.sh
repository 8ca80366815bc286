# Shared by ops/run, ops/test and ops/bench: find or install what is missing, and run a
# private PostgreSQL 15 cluster. Source it; it defines functions and changes nothing by itself.

tally_log() { printf '%s\n' "ops: $*" >&2; }
tally_die() { printf '%s\n' "ops: error: $*" >&2; exit 1; }

TALLY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Swift: PATH first, then where this machine kind installs toolchains.
tally_find_swift() {
    if command -v swift >/dev/null 2>&1; then return 0; fi
    local d
    for d in /opt/swift/usr/bin /usr/share/swift/usr/bin /usr/local/swift/usr/bin "$HOME"/.local/share/swiftly/bin /opt/swift*/usr/bin; do
        if [ -x "$d/swift" ]; then export PATH="$d:$PATH"; return 0; fi
    done
    tally_die "swift not found on PATH or in /opt/swift/usr/bin; install Swift 6 (https://swift.org/install) and retry"
}

# PostgreSQL's server tools live outside PATH on Debian.
tally_find_pg() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then return 0; fi
    local d
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin /usr/pgsql-15/bin; do
        if [ -x "$d/initdb" ]; then export PATH="$d:$PATH"; return 0; fi
    done
    return 1
}

# True when Debian package $1 is installed: dpkg's status "install ok installed" (a package
# removed with its configuration left behind answers "deinstall ok config-files": not installed).
tally_package_installed() {
    dpkg -s "$1" 2>/dev/null | grep -qx 'Status: install ok installed'
}

# Installs those of the Debian packages "$@" that are not installed, and only those, saying
# which (a first argument --no-install-recommends goes to apt-get). Never upgrades anything already there (--no-upgrade): an upgrade of postgresql-15 under
# a running cluster breaks it (`could not load library plpgsql.so`). Every ops/ script installs
# through here.
tally_install_missing() {
    local options=()
    if [ "${1:-}" = "--no-install-recommends" ]; then options+=("$1"); shift; fi
    command -v dpkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
        || tally_die "not a Debian machine (no dpkg or apt-get): install $* by hand"
    local missing=() p
    for p in "$@"; do tally_package_installed "$p" || missing+=("$p"); done
    [ "${#missing[@]}" -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || tally_die "packages are missing and this is not root (no sudo): apt-get install -y --no-upgrade ${missing[*]}"
        sudo="sudo"
    fi
    tally_log "installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! $sudo apt-get install -y -q --no-upgrade "${options[@]}" "${missing[@]}" >/dev/null 2>&1; then
        $sudo apt-get update -q >/dev/null 2>&1 || true
        $sudo apt-get install -y -q --no-upgrade "${options[@]}" "${missing[@]}" >/dev/null \
            || tally_die "apt-get install failed: install ${missing[*]} by hand"
    fi
}

# Installs the Debian packages Tally needs that are missing (postgresql libpq-dev
# libcurl4-openssl-dev libssl-dev openssl), checked one by one. A PostgreSQL server already
# there (postgresql-15 without the `postgresql` metapackage, say) counts: the metapackage could
# bring another version. Without dpkg (not Debian) the files themselves are checked instead.
tally_install_packages() {
    if command -v dpkg >/dev/null 2>&1; then
        local wanted=()
        tally_find_pg || wanted+=(postgresql)
        # openssl: tests check signatures against its HMAC.
        wanted+=(libpq-dev libcurl4-openssl-dev libssl-dev openssl)
        # Debian's postgresql package starts a system cluster on 5432; ours never uses it.
        tally_install_missing "${wanted[@]}"
        tally_find_pg || tally_die "PostgreSQL is installed but initdb is not in /usr/lib/postgresql/*/bin"
        return 0
    fi
    local missing=0
    tally_find_pg || missing=1
    [ -f /usr/include/postgresql/libpq-fe.h ] || missing=1
    [ -f /usr/include/openssl/hmac.h ] || missing=1
    [ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] || [ -f /usr/include/curl/curl.h ] || [ -f /usr/include/aarch64-linux-gnu/curl/curl.h ] || missing=1
    command -v psql >/dev/null 2>&1 || missing=1
    command -v openssl >/dev/null 2>&1 || missing=1
    [ "$missing" = 0 ] || tally_die "not a Debian machine (no dpkg), and some of PostgreSQL 15, libpq, libcurl, OpenSSL (headers and openssl) are missing: install them by hand"
}

# Runs a command as the cluster's owner: the postgres user when we are root (initdb refuses root).
tally_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A folder the cluster owner can write and reach. $1: the preferred folder (inside the checkout).
# As root, a checkout under a folder the postgres user cannot enter is not usable: then a
# folder under /var/tmp owned by postgres is used instead, named after the checkout.
tally_pg_home() {
    local want="$1"
    mkdir -p "$want"
    if [ "$(id -u)" != 0 ]; then echo "$want"; return; fi
    id postgres >/dev/null 2>&1 || tally_die "no postgres user: is the postgresql package installed?"
    chown postgres: "$want" 2>/dev/null || true
    if runuser -u postgres -- test -w "$want" 2>/dev/null; then echo "$want"; return; fi
    local alt="/var/tmp/tally-pg-$(printf '%s' "$TALLY_ROOT" | md5sum | cut -c1-8)"
    mkdir -p "$alt"
    chown postgres: "$alt"
    chmod 700 "$alt"
    echo "$alt"
}

# Starts (creating if needed) a cluster in $1 with its socket in a short private folder.
# $2: "fast" for tests (fsync off), "durable" otherwise. Exports PGHOST, PGPORT, PGUSER and
# TALLY_PG_DATA / TALLY_PG_SOCKET for tally_stop_postgres.
tally_start_postgres() {
    local home="$1" mode="${2:-durable}"
    local data="$home/data"
    local user; if [ "$(id -u)" = 0 ]; then user=postgres; else user=$(id -un); fi
    if [ ! -f "$data/PG_VERSION" ]; then
        tally_as_owner initdb -D "$data" -U "$user" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null \
            || tally_as_owner initdb -D "$data" -U "$user" --auth=trust -E UTF8 --no-locale >/dev/null \
            || tally_die "initdb failed in $data"
    fi
    # Unix socket only (listen_addresses=''), in its own folder: never collides with a
    # system cluster on 5432. Socket paths are limited to ~100 bytes, so it lives in /tmp.
    local sock
    if [ -f "$home/socket_dir" ] && [ -d "$(cat "$home/socket_dir")" ]; then sock=$(cat "$home/socket_dir"); else
        sock=$(mktemp -d /tmp/tally-pg.XXXXXX)
        [ "$(id -u)" = 0 ] && chown postgres: "$sock"
        echo "$sock" > "$home/socket_dir"; [ "$(id -u)" = 0 ] && chown postgres: "$home/socket_dir"
    fi
    local port=5439
    local opts="-c listen_addresses='' -c unix_socket_directories='$sock' -c port=$port -c max_connections=300"
    opts="$opts -c shared_buffers=256MB -c max_wal_size=2GB -c checkpoint_timeout=15min"
    if [ "$mode" = fast ]; then
        opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    else
        opts="$opts -c fsync=on -c synchronous_commit=on"
    fi
    if ! tally_as_owner pg_ctl -D "$data" status >/dev/null 2>&1; then
        tally_as_owner pg_ctl -D "$data" -l "$home/postgres.log" -o "$opts" -w -t 60 start >/dev/null \
            || { tail -n 20 "$home/postgres.log" >&2 2>/dev/null; tally_die "PostgreSQL did not start (log: $home/postgres.log)"; }
    fi
    export PGHOST="$sock" PGPORT="$port" PGUSER="$user" TALLY_PG_DATA="$data" TALLY_PG_SOCKET="$sock"
}

tally_stop_postgres() {
    [ -n "${TALLY_PG_DATA:-}" ] || return 0
    tally_as_owner pg_ctl -D "$TALLY_PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
}

# Creates database $1 if it does not exist.
tally_create_db() {
    psql -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1 \
        || psql -d postgres -qc "CREATE DATABASE \"$1\"" >/dev/null
}

# Builds the tally binary ($1: debug or release) and prints its path.
tally_build() {
    local config="${1:-debug}" out
    if ! out=$(cd "$TALLY_ROOT" && swift build -c "$config" --product tally 2>&1); then
        printf '%s\n' "$out" | grep -E 'error|warning: unre' | head -40 >&2
        tally_die "the build failed (swift build -c $config --product tally)"
    fi
    echo "$(cd "$TALLY_ROOT" && swift build -c "$config" --show-bin-path)/tally"
}
