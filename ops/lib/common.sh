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

# Installs the Debian packages Tally needs if any piece is missing.
tally_install_packages() {
    local missing=0
    tally_find_pg || missing=1
    [ -f /usr/include/postgresql/libpq-fe.h ] || missing=1
    [ -f /usr/include/openssl/hmac.h ] || missing=1
    [ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] || [ -f /usr/include/curl/curl.h ] || [ -f /usr/include/aarch64-linux-gnu/curl/curl.h ] || missing=1
    command -v psql >/dev/null 2>&1 || missing=1
    command -v openssl >/dev/null 2>&1 || missing=1   # tests check signatures against its HMAC
    [ "$missing" = 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || tally_die "packages are missing and this is not root (no sudo): apt-get install -y postgresql libpq-dev libcurl4-openssl-dev libssl-dev"
        sudo="sudo"
    fi
    tally_log "installing PostgreSQL and the C libraries (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # Debian's postgresql package starts a system cluster on 5432; ours never uses it.
    if ! $sudo apt-get install -y -q postgresql libpq-dev libcurl4-openssl-dev libssl-dev openssl >/dev/null 2>&1; then
        $sudo apt-get update -q >/dev/null 2>&1 || true
        $sudo apt-get install -y -q postgresql libpq-dev libcurl4-openssl-dev libssl-dev openssl >/dev/null \
            || tally_die "apt-get install failed: install postgresql libpq-dev libcurl4-openssl-dev libssl-dev by hand"
    fi
    tally_find_pg || tally_die "PostgreSQL was installed but initdb is not in /usr/lib/postgresql/*/bin"
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
