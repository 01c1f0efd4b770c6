#!/usr/bin/env bash
# bench/run.sh: relative HTTP throughput of hybrid-auth endpoints.
#
# What it shows: whether bearer-token verification on the API costs a database
# round trip. Absolute requests/sec depend on the machine, so every endpoint is
# reported as a RATIO against GET /healthz (no I/O) measured in the same run,
# with the same wrk settings, against the same server process.
#
#   /healthz      baseline: routing + a tiny JSON body, no I/O
#   /login        askama HTML page, anonymous (HMAC CSRF token, no DB)
#   /api/v1/ping  Bearer: EdDSA JWT verification + in-memory revocation check
#   /api/v1/me    Bearer + scope check + one primary-key SELECT of the user
#
# Besides wrk's numbers, the script reads Postgres' transaction counter for the
# benchmark database (pg_stat_database.xact_commit + xact_rollback) before and
# after each endpoint and prints DB transactions per request. Postgres flushes
# these counters lazily (a backend that goes idle can hold them back up to
# 10 s), so the script waits SETTLE seconds before each reading. Background
# queries (the revocation listener's `SELECT 1` heartbeat after each quiet second, the purge task)
# can add a few transactions to any row; a per-request query adds ~1.0/request.
#
# Usage:   bash bench/run.sh
# Needs:   cargo, wrk, curl, psql, python3; Postgres at 127.0.0.1:5432 with
#          trust auth for user postgres. Only loopback traffic.
#
# Environment (defaults in brackets):
#   PORT         [18080]  port for the server; must be free
#   WORKERS      [1]      server HTTP worker threads (server and wrk share the cores)
#   THREADS      [1]      wrk threads
#   CONNECTIONS  [32]     wrk connections
#   DURATION     [10s]    wrk duration per endpoint (measured run)
#   WARMUP       [2s]     wrk warm-up per endpoint (not reported in the table)
#   SETTLE       [11]     seconds to wait before each DB-counter reading
#   BENCH_DB     [hybrid_auth_bench]  database to DROP, recreate and use
#   SKIP_BUILD   [0]      1 = do not run cargo build
#
# The database BENCH_DB is dropped at the start (and at the end). With the
# defaults the whole run takes about 2 minutes (4 x (2 s + 10 s + 11 s) + setup).
# Exit status: 0 on success; 1 if a check fails or wrk saw non-2xx responses.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PORT=${PORT:-18080}
WORKERS=${WORKERS:-1}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
SETTLE=${SETTLE:-11}
BENCH_DB=${BENCH_DB:-hybrid_auth_bench}
SKIP_BUILD=${SKIP_BUILD:-0}

die() {
    echo "bench: $*" >&2
    exit 1
}

# ---- validate inputs (they end up in SQL, URLs and wrk arguments) ----------
[[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || die "PORT must be a port number"
[[ $WORKERS =~ ^[0-9]+$ ]] && ((WORKERS >= 1)) || die "WORKERS must be >= 1"
[[ $THREADS =~ ^[0-9]+$ ]] && ((THREADS >= 1)) || die "THREADS must be >= 1"
[[ $CONNECTIONS =~ ^[0-9]+$ ]] && ((CONNECTIONS >= THREADS)) || die "CONNECTIONS must be >= THREADS"
[[ $SETTLE =~ ^[0-9]+$ ]] || die "SETTLE must be whole seconds"
[[ $BENCH_DB =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must match [a-z_][a-z0-9_]*"
seconds() { # "10" | "10s" | "2m" -> seconds
    [[ $1 =~ ^([0-9]+)([smh]?)$ ]] || die "bad duration '$1' (use e.g. 10s, 1m)"
    case ${BASH_REMATCH[2]} in
    m) echo $((BASH_REMATCH[1] * 60)) ;;
    h) echo $((BASH_REMATCH[1] * 3600)) ;;
    *) echo "${BASH_REMATCH[1]}" ;;
    esac
}
DURATION_S=$(seconds "$DURATION")
WARMUP_S=$(seconds "$WARMUP")
((DURATION_S >= 1)) || die "DURATION must be at least 1s"

for tool in cargo wrk curl psql python3 timeout; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

BASE="http://127.0.0.1:$PORT"
PSQL=(psql -h 127.0.0.1 -U postgres -d postgres -X -q -At -v ON_ERROR_STOP=1)
TMP=$(mktemp -d)
SERVER_PID=""

cleanup() {
    local rc=$?
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if ((rc != 0)) && [[ -s $TMP/server.log ]]; then
        echo "---- last lines of the server log ----" >&2
        tail -n 20 "$TMP/server.log" >&2 || true
    fi
    "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build, fresh database, start the server ---------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
    echo "bench: cargo build --release" >&2
    cargo build --release --quiet
fi
BIN=target/release/hybrid-auth
[[ -x $BIN ]] || die "$BIN not found (build failed?)"

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "port $PORT is already in use (set PORT=...)"
fi

"${PSQL[@]}" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null

echo "bench: starting server on $BASE (WORKERS=$WORKERS)" >&2
env DATABASE_URL="postgres://postgres@127.0.0.1:5432/$BENCH_DB" \
    BIND_ADDR="127.0.0.1:$PORT" \
    PUBLIC_URL="$BASE" \
    WORKERS="$WORKERS" \
    RUST_LOG=warn \
    ACCESS_TOKEN_TTL=1h \
    LOGIN_MAX_FAILURES=100000000 \
    "$BIN" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

ready=0
for _ in $(seq 1 120); do # at most ~30 s (database creation + migrations)
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited during start-up"
    if curl -fsS -o /dev/null --max-time 1 "$BASE/readyz" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.25
done
((ready)) || die "server not ready after 30 s"

# ---- a user and an access token ----------------------------------------------
EMAIL="bench@example.com"
PASSWORD="bench-password-not-secret"
JAR="$TMP/cookies"
page=$(curl -fsS --max-time 5 -c "$JAR" -b "$JAR" "$BASE/register")
CSRF=$(printf '%s\n' "$page" | sed -n 's/.*<meta name="csrf-token" content="\([^"]*\)".*/\1/p' | head -n 1)
[[ -n $CSRF ]] || die "no csrf-token meta tag on /register"
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -c "$JAR" -b "$JAR" \
    --data-urlencode "csrf_token=$CSRF" --data-urlencode "email=$EMAIL" \
    --data-urlencode "password=$PASSWORD" --data-urlencode "password_confirm=$PASSWORD" \
    "$BASE/register")
[[ $code == 303 ]] || die "POST /register answered $code, expected 303"

json=$(curl -sS --max-time 10 -X POST "$BASE/api/v1/auth/token" \
    --data-urlencode grant_type=password --data-urlencode "username=$EMAIL" \
    --data-urlencode "password=$PASSWORD")
TOKEN=$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') ||
    die "no access_token in token response: $json"
AUTH_HEADER="Authorization: Bearer $TOKEN"

# ---- endpoints: each must answer 200 once before it is measured --------------
PATHS=(/healthz /login /api/v1/ping /api/v1/me)
NEEDS_AUTH=(0 0 1 1)

hdr_args() { # $1 = needs auth
    if [[ $1 == 1 ]]; then printf '%s\0' -H "$AUTH_HEADER"; fi
}

for i in "${!PATHS[@]}"; do
    mapfile -d '' -t h < <(hdr_args "${NEEDS_AUTH[$i]}")
    code=$(curl -sS --max-time 5 -o "$TMP/check.body" -w '%{http_code}' ${h[@]+"${h[@]}"} "$BASE${PATHS[$i]}")
    [[ $code == 200 ]] || die "GET ${PATHS[$i]} answered $code, expected 200: $(head -c 300 "$TMP/check.body")"
done
echo "bench: all endpoints answer 200" >&2

db_xacts() {
    "${PSQL[@]}" -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$BENCH_DB'"
}

run_wrk() { # $1 = index, $2 = duration, $3 = output file
    mapfile -d '' -t h < <(hdr_args "${NEEDS_AUTH[$1]}")
    timeout $(($(seconds "$2") + 30)) \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2" --latency ${h[@]+"${h[@]}"} "$BASE${PATHS[$1]}" >"$3"
}

# Prints: rps requests p50_ms p99_ms non2xx socket_errors
parse_wrk() {
    awk '
    function ms(v) {
        if (v ~ /us$/) return v / 1000
        if (v ~ /ms$/) return v + 0
        if (v ~ /s$/)  return v * 1000
        if (v ~ /m$/)  return v * 60000
        return v + 0
    }
    BEGIN { rps = 0; req = 0; p50 = -1; p99 = -1; non2xx = 0; errs = 0 }
    /Requests\/sec:/            { rps = $2 }
    / requests in /             { req = $1 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/            { gsub(",", ""); errs = $4 + $6 + $8 + $10 }
    $1 == "50%"                 { p50 = ms($2) }
    $1 == "99%"                 { p99 = ms($2) }
    END { printf "%s %s %.3f %.3f %s %s\n", rps, req, p50, p99, non2xx, errs }
    ' "$1"
}

echo "bench: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (warm-up $WARMUP each), settle ${SETTLE}s" >&2
sleep "$SETTLE" # let the set-up's DB statistics reach pg_stat_database
declare -a RPS REQ P50 P99 NON2XX ERRS XACTS
for i in "${!PATHS[@]}"; do
    echo "bench: ${PATHS[$i]}" >&2
    before=$(db_xacts)
    warm_req=0
    if ((WARMUP_S > 0)); then
        run_wrk "$i" "$WARMUP" "$TMP/warm.$i"
        read -r _ warm_req _ _ _ _ < <(parse_wrk "$TMP/warm.$i")
    fi
    run_wrk "$i" "$DURATION" "$TMP/wrk.$i"
    read -r RPS[i] REQ[i] P50[i] P99[i] NON2XX[i] ERRS[i] < <(parse_wrk "$TMP/wrk.$i")
    [[ ${RPS[i]} != 0 ]] || die "could not read wrk output for ${PATHS[$i]}: $(cat "$TMP/wrk.$i")"
    sleep "$SETTLE"
    after=$(db_xacts)
    XACTS[i]=$((after - before))
    TOTAL_REQ[i]=$((warm_req + REQ[i]))
done

# ---- report ------------------------------------------------------------------
echo
echo "hybrid-auth benchmark, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "cpu: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), server WORKERS=$WORKERS"
echo "wrk: -t$THREADS -c$CONNECTIONS -d$DURATION --latency, warm-up $WARMUP per endpoint"
echo
BASE_RPS=${RPS[0]}
printf '| %-13s | %9s | %11s | %8s | %8s | %12s | %7s | %8s | %13s |\n' \
    endpoint 'req/s' 'vs /healthz' 'p50 ms' 'p99 ms' '+µs/req' 'non-2xx' 'sock err' 'DB xacts/req'
printf '|%s|%s:|%s:|%s:|%s:|%s:|%s:|%s:|%s:|\n' \
    '---------------' '----------' '------------' '---------' '---------' '-------------' '--------' '---------' '--------------'
bad=0
for i in "${!PATHS[@]}"; do
    awk -v path="${PATHS[$i]}" -v rps="${RPS[i]}" -v base="$BASE_RPS" -v p50="${P50[i]}" \
        -v p99="${P99[i]}" -v n="${NON2XX[i]}" -v e="${ERRS[i]}" -v x="${XACTS[i]}" -v r="${TOTAL_REQ[i]}" '
    BEGIN {
        extra = (path == "/healthz") ? "-" : sprintf("%.1f", 1e6 / rps - 1e6 / base)
        printf "| %-13s | %9.0f | %10.2fx | %8.2f | %8.2f | %12s | %7d | %8d | %8.4f (%d) |\n",
            path, rps, rps / base, p50, p99, extra, n, e, (r > 0 ? x / r : 0), x
    }'
    ((NON2XX[i] == 0)) || bad=1
    ((ERRS[i] == 0)) || echo "bench: warning: ${ERRS[i]} socket errors on ${PATHS[$i]}" >&2
done
echo
echo "+µs/req = 1e6/req_s - 1e6/req_s(/healthz): extra server time per request at saturation."
echo "DB xacts/req = Postgres transactions in the benchmark database during warm-up + run,"
echo "divided by requests sent (raw count in parentheses; background queries may add a few)."
((bad == 0)) || die "some responses were not 2xx; the ratios above are not meaningful"

# ---- /healthz during a burst of logins ----------------------------------------
# Argon2 runs on the blocking pool, so a stream of password checks should cost
# other requests CPU share (two cores are shared by everything here), but not
# stall the async worker: /healthz latency stays far below one hash (~20 ms) per
# queued login. Wrong passwords, with LOGIN_MAX_FAILURES raised so that every
# attempt is really hashed.
cat >"$TMP/login.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "grant_type=password&username=bench%40example.com&password=wrong-password"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
echo "bench: /healthz while 8 connections post wrong passwords" >&2
timeout $((DURATION_S + 40)) wrk -t1 -c8 -d"$((DURATION_S + 2))s" -s "$TMP/login.lua" \
    "$BASE/api/v1/auth/token" >"$TMP/burst.logins" &
BURST_PID=$!
sleep 1
run_wrk 0 "$DURATION" "$TMP/burst.healthz"
wait "$BURST_PID" || true
read -r b_rps _ b_p50 b_p99 _ _ < <(parse_wrk "$TMP/burst.healthz")
l_rps=$(awk '/Requests\/sec:/ { print $2 }' "$TMP/burst.logins")
awk -v rps="$b_rps" -v base="$BASE_RPS" -v p50="$b_p50" -v p99="$b_p99" -v b99="${P99[0]}" -v l="$l_rps" 'BEGIN {
    printf "/healthz during a login burst (%.0f password checks/s): %.0f req/s = %.2fx of /healthz alone; p50 %.2f ms, p99 %.2f ms (alone: %.2f ms)\n",
        l, rps, rps / base, p50, p99, b99
}'
