#!/usr/bin/env bash
# Throughput of an authenticated read, `GET /apps/{app}/collaborators`, on
# SQLite and on PostgreSQL, with many apps (10,000 by default) and with few
# (100), each app shared with 20 collaborators. Requests pick an app at random.
# Prints requests per second per store and size, and the ratio of the two
# sizes, so that one sees whether the cost grows with the installation.
#
# Loopback only: the server listens on 127.0.0.1 and the database is the local
# PostgreSQL. Every run uses a fresh data dir and a fresh database, removed at
# the end. Needs wrk, sqlite3 and psql.
#
#   bench/collaborators-read.sh            # release build, 10 s per run
#   DURATION=30s CONNECTIONS=32 bench/collaborators-read.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
LARGE="${LARGE:-10000}"
SMALL="${SMALL:-100}"
COLLABORATORS="${COLLABORATORS:-20}"
POSTGRES_URL="${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
STORES="${STORES:-sqlite postgres}"

for tool in wrk sqlite3 psql; do
    command -v "$tool" >/dev/null || { echo "bench needs $tool (apt-get install wrk sqlite3 postgresql-client)" >&2; exit 1; }
done
if [ -z "${SLIPWAY_BIN:-}" ]; then
    cargo build --release --quiet
    SLIPWAY_BIN=target/release/slipway
fi

work="$(mktemp -d)"
server_pid=""
databases=()
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    for db in "${databases[@]}"; do
        psql "$POSTGRES_URL" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Apps bench-1..N owned by the bench account, each with its own collaborators.
# Plain SQL that both engines run.
seed_sql() {
    local apps="$1"
    cat <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $apps)
INSERT INTO apps (id, name, owner_id, repo_size, slug_size, created_at, updated_at)
SELECT 'app-' || i, 'bench-' || i, (SELECT id FROM accounts WHERE email = 'owner@bench.test'),
       0, 0, 0, 0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $apps),
     m(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM m WHERE j < $COLLABORATORS)
INSERT INTO accounts (id, email, state, created_at, updated_at)
SELECT 'acct-' || i || '-' || j, 'c' || i || '-' || j || '@bench.test', 'active', 0, 0
FROM n, m;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $apps),
     m(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM m WHERE j < $COLLABORATORS)
INSERT INTO collaborators (id, app_id, account_id, created_at, updated_at)
SELECT 'collab-' || i || '-' || j, 'app-' || i, 'acct-' || i || '-' || j, 0, 0
FROM n, m;
SQL
}

# Runs one store at one size; prints "requests/s latency-p50 latency-p99".
# Call it in this shell (not in a subshell), so that cleanup sees its server
# and database.
run_one() {
    local store="$1" apps="$2"
    local dir="$work/$store-$apps"
    mkdir -p "$dir/data"
    local db_url
    if [ "$store" = postgres ]; then
        local name
        name="slipway_bench_$(date +%s)_$RANDOM$RANDOM"
        psql "$POSTGRES_URL" -q -c "CREATE DATABASE $name"
        databases+=("$name")
        db_url="${POSTGRES_URL%/*}/$name"
    else
        db_url="sqlite://$dir/data/slipway.db"
    fi

    local key
    key="$(DATABASE_URL="$db_url" SLIPWAY_DATA_DIR="$dir/data" \
        "$SLIPWAY_BIN" admin create-user owner@bench.test </dev/null)"
    if [ "$store" = postgres ]; then
        seed_sql "$apps" | psql "$db_url" -q -v ON_ERROR_STOP=1 >/dev/null
        psql "$db_url" -q -c "ANALYZE" >/dev/null
    else
        seed_sql "$apps" | sqlite3 -bail "$dir/data/slipway.db"
        sqlite3 "$dir/data/slipway.db" "ANALYZE"
    fi

    # The per-account rate limit would cut the run short: lift it.
    DATABASE_URL="$db_url" SLIPWAY_DATA_DIR="$dir/data" SLIPWAY_LOG="warn,slipway::server=info" \
        SLIPWAY_RATE_LIMIT=4000000000 \
        "$SLIPWAY_BIN" serve --listen 127.0.0.1:0 --router-listen 127.0.0.1:0 \
        >"$dir/serve.log" 2>&1 &
    server_pid=$!
    local url=""
    for _ in $(seq 1 200); do
        url="$(grep -o 'api=http://[0-9.:]*' "$dir/serve.log" | head -1 | cut -d= -f2 || true)"
        [ -n "$url" ] && break
        sleep 0.1
    done
    if [ -z "$url" ]; then
        echo "server did not report its address" >&2
        cat "$dir/serve.log" >&2
        exit 1
    fi

    # One checked request before measuring: the owner plus every collaborator.
    local entries
    entries="$(curl -sf -H "Authorization: Bearer $key" "$url/apps/bench-$apps/collaborators" \
        | grep -o '"role"' | wc -l)"
    if [ "$entries" -ne $((COLLABORATORS + 1)) ]; then
        echo "unexpected answer from $url: $entries entries" >&2
        exit 1
    fi

    cat >"$dir/random-app.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Accept"] = "application/vnd.heroku+json; version=3"
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/apps/bench-" .. math.random(1, $apps) .. "/collaborators")
end
LUA
    wrk -t1 -c"$CONNECTIONS" -d2s -s "$dir/random-app.lua" "$url" >/dev/null
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$dir/random-app.lua" "$url" \
        >"$dir/wrk.txt"
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""

    if grep -q "Non-2xx" "$dir/wrk.txt"; then
        echo "errors during the run:" >&2
        cat "$dir/wrk.txt" >&2
        exit 1
    fi
    local rps p50 p99
    rps="$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.txt")"
    p50="$(awk '$1 == "50%" {print $2}' "$dir/wrk.txt")"
    p99="$(awk '$1 == "99%" {print $2}' "$dir/wrk.txt")"
    echo "$rps $p50 $p99"
}

echo "GET /apps/{app}/collaborators, $COLLABORATORS collaborators per app, random app,"
echo "$CONNECTIONS connections, $DURATION per run, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %7s %12s %10s %10s\n' store apps "requests/s" p50 p99
for store in $STORES; do
    run_one "$store" "$SMALL" >"$work/result"
    read -r small_rps small_p50 small_p99 <"$work/result"
    printf '%-9s %7s %12s %10s %10s\n' "$store" "$SMALL" "$small_rps" "$small_p50" "$small_p99"
    run_one "$store" "$LARGE" >"$work/result"
    read -r large_rps large_p50 large_p99 <"$work/result"
    printf '%-9s %7s %12s %10s %10s\n' "$store" "$LARGE" "$large_rps" "$large_p50" "$large_p99"
    awk -v s="$small_rps" -v l="$large_rps" -v store="$store" -v small="$SMALL" -v large="$LARGE" \
        'BEGIN { printf "%-9s throughput at %s apps / at %s apps: %.2f\n", store, large, small, l / s }'
done
