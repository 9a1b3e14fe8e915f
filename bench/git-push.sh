#!/usr/bin/env bash
# Pushes one repository (thousands of files, tens of MB) three ways and prints
# the median wall time of each and the ratios:
#   1. through Slipway (smart HTTP, hooks, build, release),
#   2. through nginx + fcgiwrap + `git http-backend` (the usual self-hosted set-up),
#   3. to a bare repository by path (the floor).
# Everything listens on 127.0.0.1 only and is stopped at the end.
#
# Needs: git, curl, nginx and fcgiwrap (Debian: apt-get install nginx-light fcgiwrap).
# Rerun:  bench/git-push.sh [RUNS]     (SLIPWAY_BIN picks the binary; default
#         target/release/slipway, else target/debug/slipway)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-5}"
BIN="${SLIPWAY_BIN:-target/release/slipway}"
[ -x "$BIN" ] || BIN=target/debug/slipway
[ -x "$BIN" ] || { echo "build slipway first (cargo build --release)" >&2; exit 1; }
BIN="$(realpath "$BIN")"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -f "$WORK/nginx/nginx.pid" ]; then kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

export HOME="$WORK/home" GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME"
git config --global user.name Bench
git config --global user.email bench@example.com
git config --global init.defaultBranch main

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The repository: 3000 source-like files and 30 MB of binary data in one commit.
echo "== making the repository" >&2
SRC="$WORK/src"
mkdir -p "$SRC"
for d in $(seq 1 30); do
    mkdir -p "$SRC/pkg$d"
    for f in $(seq 1 100); do
        printf 'module %d.%d\n%s\n' "$d" "$f" "$(head -c 600 /dev/urandom | base64 -w 76)" >"$SRC/pkg$d/file$f.txt"
    done
done
for b in $(seq 1 6); do head -c $((5 * 1024 * 1024)) /dev/urandom >"$SRC/blob$b.bin"; done
echo "web: ./run" >"$SRC/Procfile"
git -C "$SRC" init -q && git -C "$SRC" add -A && git -C "$SRC" commit -qm bench
echo "   $(git -C "$SRC" ls-files | wc -l) files, $(du -sh "$SRC" --exclude=.git | cut -f1)" >&2

# Slipway, with one app per run (each push starts from an empty repository).
PORT=$(free_port)
SLIPWAY_DATA_DIR="$WORK/slipway" "$BIN" serve --listen "127.0.0.1:$PORT" \
    --router-listen "127.0.0.1:$(free_port)" --no-sandbox >"$WORK/slipway.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q "slipway listening" "$WORK/slipway.log" 2>/dev/null && break; sleep 0.1; done
KEY=$(SLIPWAY_DATA_DIR="$WORK/slipway" "$BIN" admin create-user bench@example.com)

# nginx + fcgiwrap + git http-backend over the same kind of bare repositories.
mkdir -p "$WORK/nginx" "$WORK/http-repos"
fcgiwrap -s "unix:$WORK/nginx/fcgiwrap.sock" &
PIDS+=($!)
NGINX_PORT=$(free_port)
# As root, nginx's workers would run as nobody and could not reach the socket.
NGINX_USER=""
[ "$(id -u)" = 0 ] && NGINX_USER="user root;"
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    client_max_body_size 0;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT $WORK/http-repos;
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param REMOTE_USER bench;
            fastcgi_param PATH_INFO \$uri;
            fastcgi_pass unix:$WORK/nginx/fcgiwrap.sock;
        }
    }
}
EOF
for _ in $(seq 1 50); do [ -S "$WORK/nginx/fcgiwrap.sock" ] && break; sleep 0.1; done
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: >"$WORK/slipway.times"; : >"$WORK/nginx.times"; : >"$WORK/path.times"
for run in $(seq 1 "$RUNS"); do
    curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d "{\"name\":\"bench-$run\"}" "http://127.0.0.1:$PORT/apps" >/dev/null
    t0=$(now); git -C "$SRC" push -q "http://bench:$KEY@127.0.0.1:$PORT/bench-$run.git" main 2>/dev/null; t1=$(now)
    echo "$t1 - $t0" | bc >>"$WORK/slipway.times"

    git init -q --bare "$WORK/http-repos/r$run.git"
    git -C "$WORK/http-repos/r$run.git" config http.receivepack true
    t0=$(now); git -C "$SRC" push -q "http://127.0.0.1:$NGINX_PORT/r$run.git" main; t1=$(now)
    echo "$t1 - $t0" | bc >>"$WORK/nginx.times"

    git init -q --bare "$WORK/path-$run.git"
    t0=$(now); git -C "$SRC" push -q "$WORK/path-$run.git" main; t1=$(now)
    echo "$t1 - $t0" | bc >>"$WORK/path.times"
    echo "   run $run done" >&2
done

S=$(median <"$WORK/slipway.times"); N=$(median <"$WORK/nginx.times"); P=$(median <"$WORK/path.times")
echo "git push of $(git -C "$SRC" ls-files | wc -l) files, $(du -sh "$SRC" --exclude=.git | cut -f1), median of $RUNS runs ($(basename "$BIN") at $BIN):"
printf '  slipway (http, hooks, build, release)   %6.2f s\n' "$S"
printf '  nginx + fcgiwrap + git http-backend     %6.2f s\n' "$N"
printf '  local bare repository by path (floor)   %6.2f s\n' "$P"
printf '  ratios: slipway/nginx %.2f, slipway/path %.2f, nginx/path %.2f\n' \
    "$(echo "$S / $N" | bc -l)" "$(echo "$S / $P" | bc -l)" "$(echo "$N / $P" | bc -l)"
