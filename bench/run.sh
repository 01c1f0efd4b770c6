#!/usr/bin/env bash
# bench/run.sh: what hybrid-auth's hot paths cost, as RATIOS measured in one
# run (absolute req/s depend on the machine; these machines are noisy).
#
# Setup: a release build, a fresh database, the server pinned to CPU 0 with
# WORKERS=1, every load generator pinned to CPU 1 (taskset). Printed:
#
#   1. req/s, latency and DB transactions per request for
#        /healthz              baseline: no I/O
#        /api/v1/ping          Bearer: cached token verification + in-memory revocation check
#        / (anonymous)         askama page, anonymous CSRF token, no DB
#        / (signed in)         the same page for a signed-in browser (session cache)
#        /api/v1/me            Bearer + one primary-key SELECT
#        /healthz +token       the baseline sent ping's bytes (its Authorization header)
#        /api/v1/ping +key     Bearer with an API key: the instance's key cache +
#                              the in-memory revocation check
#   2. the goals of the performance issue:
#        ping ÷ healthz sent the same bytes               ≥ 0.8
#        API-key ping ÷ healthz                           ≥ 0.7
#        API-key ping: DB transactions per request beyond /healthz's (the
#          listener's heartbeats) in the measured run, after the warm-up's
#          first uses (≤ 0.00001: none but a recheck a minute)
#        signed-in / ÷ anonymous /                        ≥ 0.4
#        ping p99 during a login storm ÷ ping p99 idle    ≤ 3
#          (at full load, and again at 4 connections: not saturated)
#        refresh-grant rotations/s                        ≥ 1500
#        cross-instance revocation lag p99 (200 revocations, two instances) ≤ 100 ms
#   3. how many revocations per second LISTEN/NOTIFY carried in a burst.
#   4. through PgBouncer (transaction mode): the direct instances are stopped,
#      a PgBouncer is started on PGBOUNCER_PORT and three instances A', B', C'
#      (PORT+10..PORT+12, WORKERS=1, CPU 0) run with DATABASE_URL = the pooler
#      and LISTENER_DATABASE_URL = Postgres itself (listener and migrations
#      direct, every statement in a transaction). Goals:
#        revocation lag A'→B' and A'→C' p99 (REVOCATIONS revocations) ≤ 100 ms each
#        refresh-grant rotations/s on A' through the pooler ÷ direct (part 1) ≥ 0.3
#      PgBouncer itself is not pinned (nor is Postgres).
#
# DB transactions come from pg_stat_database (xact_commit + xact_rollback of
# the benchmark database) read before and after each endpoint. Postgres
# publishes them lazily, so the script waits SETTLE seconds before each reading.
#
# Usage:   bash bench/run.sh
# Needs:   cargo, wrk, curl, psql, python3, taskset, pgbouncer; Postgres at
#          127.0.0.1:5432 with trust auth for user postgres. Only loopback
#          traffic; every load is bounded in time and count.
#
# Environment (defaults in brackets):
#   PORT         [18080]  port of instance A (instance B uses PORT+1; the
#                         instances behind the pooler PORT+10..PORT+12)
#   PGBOUNCER_PORT [PORT+100]  port of the benchmark's own PgBouncer
#   PGBOUNCER    [/usr/sbin/pgbouncer]  the PgBouncer binary (1.18 tested)
#   CONNECTIONS  [32]     wrk connections
#   DURATION     [10s]    wrk duration per measurement
#   WARMUP       [2s]     wrk warm-up per endpoint (not reported)
#   SETTLE       [11]     seconds to wait before each DB-counter reading
#   REVOCATIONS  [200]    revocations for the lag measurement
#   BENCH_DB     [hybrid_auth_bench]  database to DROP, recreate and use
#   SKIP_BUILD   [0]      1 = do not run cargo build
#
# Exit status: 0 when every check and goal passed; 1 otherwise.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PORT=${PORT:-18080}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
SETTLE=${SETTLE:-11}
REVOCATIONS=${REVOCATIONS:-200}
BENCH_DB=${BENCH_DB:-hybrid_auth_bench}
SKIP_BUILD=${SKIP_BUILD:-0}
PGBOUNCER_PORT=${PGBOUNCER_PORT:-$((PORT + 100))}
PGBOUNCER=${PGBOUNCER:-/usr/sbin/pgbouncer}

die() {
    echo "bench: $*" >&2
    exit 1
}

[[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65535)) || die "PORT must be a port number"
[[ $CONNECTIONS =~ ^[0-9]+$ ]] && ((CONNECTIONS >= 1)) || die "CONNECTIONS must be >= 1"
[[ $SETTLE =~ ^[0-9]+$ ]] || die "SETTLE must be whole seconds"
[[ $REVOCATIONS =~ ^[0-9]+$ ]] && ((REVOCATIONS >= 10 && REVOCATIONS <= 5000)) || die "REVOCATIONS must be 10..5000"
[[ $BENCH_DB =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must match [a-z_][a-z0-9_]*"
((PORT + 12 < 65535)) || die "PORT must leave room for PORT+12"
[[ $PGBOUNCER_PORT =~ ^[0-9]+$ ]] && ((PGBOUNCER_PORT > 0 && PGBOUNCER_PORT < 65535)) ||
    die "PGBOUNCER_PORT must be a port number"
seconds() { # "10" | "10s" | "2m" -> seconds
    [[ $1 =~ ^([0-9]+)([sm]?)$ ]] || die "bad duration '$1' (use e.g. 10s, 1m)"
    case ${BASH_REMATCH[2]} in
    m) echo $((BASH_REMATCH[1] * 60)) ;;
    *) echo "${BASH_REMATCH[1]}" ;;
    esac
}
DURATION_S=$(seconds "$DURATION")
WARMUP_S=$(seconds "$WARMUP")
((DURATION_S >= 1)) || die "DURATION must be at least 1s"

for tool in cargo wrk curl psql python3 timeout taskset; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x $PGBOUNCER ]] || die "$PGBOUNCER not found (set PGBOUNCER=...)"
(($(nproc) >= 2)) || die "needs 2 cores (server on one, load on the other)"

BASE="http://127.0.0.1:$PORT"
BASE_B="http://127.0.0.1:$((PORT + 1))"
# The three instances behind the pooler (A', B', C').
PG_BASE_A="http://127.0.0.1:$((PORT + 10))"
PG_BASE_B="http://127.0.0.1:$((PORT + 11))"
PG_BASE_C="http://127.0.0.1:$((PORT + 12))"
DIRECT_URL="postgres://postgres@127.0.0.1:5432/$BENCH_DB"
POOLER_URL="postgres://postgres@127.0.0.1:$PGBOUNCER_PORT/$BENCH_DB"
PSQL=(psql -h 127.0.0.1 -U postgres -d postgres -X -q -At -v ON_ERROR_STOP=1)
TMP=$(mktemp -d)
PGB_DIR="" # PgBouncer's directory (config, pid file, log), made when it starts
PIDS=()
SERVER_CPU=0
LOAD_CPU=1

stop_servers() { # every instance started so far: TERM, then KILL after 5 s
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

stop_pgbouncer() {
    [[ -n $PGB_DIR && -s $PGB_DIR/pgbouncer.pid ]] || return 0
    local pid
    pid=$(cat "$PGB_DIR/pgbouncer.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    stop_servers
    stop_pgbouncer
    if ((rc != 0)); then
        for log in "$TMP"/server-*.log ${PGB_DIR:+"$PGB_DIR/pgbouncer.log"}; do
            [[ -s $log ]] || continue
            echo "---- last lines of $(basename "$log") ----" >&2
            tail -n 20 "$log" >&2 || true
        done
    fi
    "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$TMP" ${PGB_DIR:+"$PGB_DIR"}
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $SKIP_BUILD != 1 ]]; then
    echo "bench: cargo build --release" >&2
    cargo build --release --quiet
fi
BIN=target/release/hybrid-auth
[[ -x $BIN ]] || die "$BIN not found (build failed?)"
for p in "$PORT" "$((PORT + 1))" "$((PORT + 10))" "$((PORT + 11))" "$((PORT + 12))" "$PGBOUNCER_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        die "port $p is already in use (set PORT=...)"
    fi
done
"${PSQL[@]}" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null

start_server() { # $1 = name, $2 = port, [$3 = DATABASE_URL, $4 = LISTENER_DATABASE_URL]
    local listener=()
    [[ -n ${4:-} ]] && listener=(LISTENER_DATABASE_URL="$4")
    env DATABASE_URL="${3:-$DIRECT_URL}" ${listener[@]+"${listener[@]}"} \
        BIND_ADDR="127.0.0.1:$2" PUBLIC_URL="$BASE" WORKERS=1 RUST_LOG=warn \
        ACCESS_TOKEN_TTL=1h LOGIN_MAX_FAILURES=100000000 \
        taskset -c "$SERVER_CPU" "$BIN" serve >"$TMP/server-$1.log" 2>&1 &
    PIDS+=($!)
    local pid=$!
    for _ in $(seq 1 120); do # at most ~30 s (database creation + migrations)
        kill -0 "$pid" 2>/dev/null || die "server $1 exited during start-up"
        curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$2/readyz" 2>/dev/null && return 0
        sleep 0.25
    done
    die "server $1 not ready after 30 s"
}

echo "bench: starting instance A on $BASE (pinned to CPU $SERVER_CPU, WORKERS=1)" >&2
start_server a "$PORT"

# ---- a signed-in browser and an API client ------------------------------------
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
SESSION_COOKIE=$(awk '$6 == "session" { print "session=" $7 }' "$JAR")
[[ -n $SESSION_COOKIE ]] || die "no session cookie after registering"

grant() { # [$1 = base URL, default instance A] prints the token response of a password grant
    curl -sS --max-time 10 -X POST "${1:-$BASE}/api/v1/auth/token" \
        --data-urlencode grant_type=password --data-urlencode "username=$EMAIL" \
        --data-urlencode "password=$PASSWORD"
}
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
TOKEN=$(grant | json_field access_token) || die "no access token"
# An API key (needs a proven address: the bench user's is marked so).
psql -h 127.0.0.1 -U postgres -X -q -At -v ON_ERROR_STOP=1 -d "$BENCH_DB" \
    -c "UPDATE users SET email_verified_at = now()" >/dev/null
KEY=$(curl -sS --max-time 10 -X POST "$BASE/api/v1/api-keys" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"name": "bench", "scope": "notes:read"}' |
    json_field key) || die "no API key"

# ---- endpoints ----------------------------------------------------------------
# Row 5 is the baseline for ping: /healthz sent the very same bytes (the
# ~570-byte Authorization header), so the ratio measures what verifying the
# token costs, not what reading a larger request costs.
# Row 6 is ping with an API key: known to the instance after its first use,
# it should cost no database transaction (compared with /healthz's, which
# are the listener's heartbeats).
NAMES=("/healthz" "/api/v1/ping" "/ (anonymous)" "/ (signed in)" "/api/v1/me" "/healthz +token" "/api/v1/ping +key")
PATHS=(/healthz /api/v1/ping / / /api/v1/me /healthz /api/v1/ping)
HEADERS=("" "Authorization: Bearer $TOKEN" "" "Cookie: $SESSION_COOKIE" "Authorization: Bearer $TOKEN" "Authorization: Bearer $TOKEN" "Authorization: Bearer $KEY")

hdr_args() { # $1 = index
    if [[ -n ${HEADERS[$1]} ]]; then printf '%s\0' -H "${HEADERS[$1]}"; fi
}
for i in "${!PATHS[@]}"; do
    mapfile -d '' -t h < <(hdr_args "$i")
    code=$(curl -sS --max-time 5 -o "$TMP/check.body" -w '%{http_code}' ${h[@]+"${h[@]}"} "$BASE${PATHS[$i]}")
    [[ $code == 200 ]] || die "GET ${NAMES[$i]} answered $code, expected 200"
done
grep -q "Sign out" "$TMP/check.body" || true
mapfile -d '' -t h < <(hdr_args 3)
curl -sS --max-time 5 ${h[@]+"${h[@]}"} "$BASE/" | grep -q 'href="/logout"' ||
    die "the signed-in request does not look signed in"
echo "bench: all endpoints answer 200" >&2

db_xacts() {
    "${PSQL[@]}" -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$BENCH_DB'"
}

wrk_pinned() { # wrk on the load CPU, bounded in time
    local d=$1
    shift
    timeout $(($(seconds "$d") + 30)) taskset -c "$LOAD_CPU" wrk -d"$d" "$@"
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

run_endpoint() { # $1 = index, $2 = duration, $3 = output
    mapfile -d '' -t h < <(hdr_args "$1")
    wrk_pinned "$2" -t1 -c"$CONNECTIONS" --latency ${h[@]+"${h[@]}"} "$BASE${PATHS[$1]}" >"$3"
}

echo "bench: wrk -t1 -c$CONNECTIONS -d$DURATION --latency (warm-up $WARMUP each), settle ${SETTLE}s" >&2
sleep "$SETTLE"
declare -a RPS REQ P50 P99 NON2XX ERRS XACTS TOTAL RUN_XACTS
bad=0
for i in "${!PATHS[@]}"; do
    echo "bench: ${NAMES[$i]}" >&2
    before=$(db_xacts)
    warm_req=0
    if ((WARMUP_S > 0)); then
        run_endpoint "$i" "$WARMUP" "$TMP/warm.$i"
        read -r _ warm_req _ _ _ _ < <(parse_wrk "$TMP/warm.$i")
    fi
    # The measured run alone too (after the warm-up's first uses), for the
    # goals about what a known credential costs.
    sleep "$SETTLE"
    run_before=$(db_xacts)
    run_endpoint "$i" "$DURATION" "$TMP/wrk.$i"
    read -r RPS[i] REQ[i] P50[i] P99[i] NON2XX[i] ERRS[i] < <(parse_wrk "$TMP/wrk.$i")
    [[ ${RPS[i]} != 0 ]] || die "could not read wrk output for ${NAMES[$i]}"
    sleep "$SETTLE"
    after=$(db_xacts)
    RUN_XACTS[i]=$((after - run_before))
    XACTS[i]=$((after - before))
    TOTAL[i]=$((warm_req + REQ[i]))
    ((NON2XX[i] == 0)) || bad=1
done

# ---- ping during a login storm ------------------------------------------------
cat >"$TMP/login.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "grant_type=password&username=bench%40example.com&password=wrong-password"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
echo "bench: /api/v1/ping while 8 clients post wrong passwords" >&2
wrk_pinned "$((DURATION_S + 2))s" -t1 -c8 -s "$TMP/login.lua" "$BASE/api/v1/auth/token" >"$TMP/storm.logins" &
STORM_PID=$!
sleep 1
run_endpoint 1 "$DURATION" "$TMP/storm.ping"
wait "$STORM_PID" || true
read -r S_RPS _ S_P50 S_P99 S_NON2XX _ < <(parse_wrk "$TMP/storm.ping")
STORM_LOGINS=$(awk '/Requests\/sec:/ { print $2 }' "$TMP/storm.logins")
((S_NON2XX == 0)) || bad=1

# The same comparison with the server not saturated: 4 connections of ping,
# idle and then during the storm. At full load the idle p99 already holds
# queueing delay, which hides what the storm adds; here it does not.
echo "bench: /api/v1/ping at 4 connections, idle and while 8 clients post wrong passwords" >&2
mapfile -d '' -t h < <(hdr_args 1)
wrk_pinned "$DURATION" -t1 -c4 --latency ${h[@]+"${h[@]}"} "$BASE/api/v1/ping" >"$TMP/light.idle"
read -r _ _ _ L_IDLE_P99 _ _ < <(parse_wrk "$TMP/light.idle")
wrk_pinned "$((DURATION_S + 2))s" -t1 -c8 -s "$TMP/login.lua" "$BASE/api/v1/auth/token" >"$TMP/light.logins" &
STORM_PID=$!
sleep 1
wrk_pinned "$DURATION" -t1 -c4 --latency ${h[@]+"${h[@]}"} "$BASE/api/v1/ping" >"$TMP/light.storm"
wait "$STORM_PID" || true
read -r _ _ _ L_STORM_P99 L_NON2XX _ < <(parse_wrk "$TMP/light.storm")
((L_NON2XX == 0)) || bad=1

# ---- refresh-grant rotations --------------------------------------------------
# Eight chains, one per wrk thread and connection: each response's refresh
# token is the next request's.
CHAINS=8
cat >"$TMP/refresh.lua" <<'LUA'
local tokens, n = {}, 0
for t in string.gmatch(os.getenv("RT_LIST"), "%S+") do table.insert(tokens, t) end
function setup(thread)
    n = n + 1
    thread:set("rt", tokens[n])
end
function request()
    return wrk.format("POST", nil, { ["Content-Type"] = "application/x-www-form-urlencoded" },
        "grant_type=refresh_token&refresh_token=" .. rt)
end
function response(status, headers, body)
    local next = string.match(body, '"refresh_token":"(rt_[^"]+)"')
    if next then rt = next end
end
LUA
rotations() { # $1 = base URL, $2 = wrk output; prints the DB transactions of the run
    local rts="" rt before
    for _ in $(seq 1 $CHAINS); do
        rt=$(grant "$1" | json_field refresh_token) || die "no refresh token from $1"
        rts="$rts $rt"
    done
    sleep "$SETTLE"
    before=$(db_xacts)
    RT_LIST="$rts" wrk_pinned "$DURATION" -t"$CHAINS" -c"$CHAINS" --latency -s "$TMP/refresh.lua" \
        "$1/api/v1/auth/token" >"$2"
    sleep "$SETTLE"
    echo $(($(db_xacts) - before))
}
echo "bench: refresh-grant rotations ($CHAINS chains)" >&2
R_XACTS=$(rotations "$BASE" "$TMP/refresh.out")
read -r R_RPS R_REQ R_P50 R_P99 R_NON2XX _ < <(parse_wrk "$TMP/refresh.out")
((R_NON2XX == 0)) || {
    echo "bench: $R_NON2XX refresh responses were not 2xx (a broken chain)" >&2
    bad=1
}

# ---- cross-instance revocation lag --------------------------------------------
# lag.py ORIGIN EMAIL PASSWORD N WATCHER...: N sessions are revoked one by one
# on ORIGIN, and every WATCHER is polled (in turn) until it refuses the token;
# then N more back to back (the burst). One line per watcher:
#   p50_ms p99_ms max_ms burst_rate burst_sent_ms burst_seen_ms burst_refused
cat >"$TMP/lag.py" <<'PY'
import http.client, json, sys, time, urllib.parse
a_url, email, password, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
watcher_urls = sys.argv[5:]
def conn(url):
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    return http.client.HTTPConnection(host, port, timeout=10)
A = conn(a_url)
W = [conn(u) for u in watcher_urls]
def call(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    return r.status, r.read()
def token():
    body = urllib.parse.urlencode({"grant_type": "password", "username": email, "password": password})
    s, b = call(A, "POST", "/api/v1/auth/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert s == 200, (s, b)
    return json.loads(b)["access_token"]
def ping(c, t):
    return call(c, "GET", "/api/v1/ping", headers={"Authorization": "Bearer " + t})[0]
def logout(t):
    s, _ = call(A, "POST", "/api/v1/auth/logout", headers={"Authorization": "Bearer " + t})
    assert s == 204, s
def until_refused(t, t0, limit):
    # Polls every watcher in turn until each refuses t; returns each one's time.
    seen, pending = [None] * len(W), set(range(len(W)))
    while pending:
        for i in sorted(pending):
            if ping(W[i], t) == 401:
                seen[i] = time.perf_counter() - t0
                pending.discard(i)
        if pending and time.perf_counter() - t0 > limit:
            sys.exit(f"{', '.join(watcher_urls[i] for i in sorted(pending))} still accept(s) a revoked token after {limit} s")
    return seen
tokens = [token() for _ in range(2 * n)]
for w in W:
    for t in tokens:
        assert ping(w, t) == 200  # every watcher has verified (and cached) every token
lags = [[] for _ in W]
for t in tokens[:n]:
    t0 = time.perf_counter()
    logout(t)
    for i, s in enumerate(until_refused(t, t0, 5)):
        lags[i].append(s * 1000)
for l in lags:
    l.sort()
pct = lambda l, p: l[min(len(l) - 1, int(round(p / 100 * len(l))) - 1)]
# Burst: revoke the other n sessions back to back on the origin, then wait
# until every watcher refuses the last one.
burst = tokens[n:]
t0 = time.perf_counter()
for t in burst:
    logout(t)
sent = time.perf_counter() - t0
seen = until_refused(burst[-1], t0, 10)
for i, w in enumerate(W):
    refused = sum(1 for t in burst if ping(w, t) == 401)
    print(f"{pct(lags[i], 50):.2f} {pct(lags[i], 99):.2f} {lags[i][-1]:.2f} {len(burst) / seen[i]:.0f} {sent * 1000:.0f} {seen[i] * 1000:.0f} {refused}")
PY
revocation_lag() { # $1 = origin, $2 = output, $3... = watchers
    local origin=$1 out=$2
    shift 2
    taskset -c "$LOAD_CPU" timeout 600 python3 "$TMP/lag.py" "$origin" "$EMAIL" "$PASSWORD" "$REVOCATIONS" "$@" >"$out"
}
echo "bench: starting instance B on $BASE_B" >&2
start_server b "$((PORT + 1))"
echo "bench: $REVOCATIONS revocations on A, watched on B; then a burst" >&2
revocation_lag "$BASE" "$TMP/lag.out" "$BASE_B"
read -r LAG_P50 LAG_P99 LAG_MAX BURST_RATE BURST_SENT_MS BURST_SEEN_MS BURST_REFUSED <"$TMP/lag.out"

# ---- through PgBouncer (transaction mode) --------------------------------------
# The direct instances are stopped (their pools and listeners would count
# against max_connections); a PgBouncer of the benchmark's own, in transaction
# mode, on PGBOUNCER_PORT; three instances behind it, A' B' C', each with its
# listener and migrations on a direct connection (LISTENER_DATABASE_URL).
echo "bench: stopping instances A and B" >&2
stop_servers
PGB_DIR=$(mktemp -d)
cat >"$PGB_DIR/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $PGB_DIR/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = 20
max_client_conn = 2000
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
pidfile = $PGB_DIR/pgbouncer.pid
logfile = $PGB_DIR/pgbouncer.log
INI
echo '"postgres" ""' >"$PGB_DIR/userlist.txt"
PGB_USER=()
if ((EUID == 0)); then # PgBouncer refuses to run as root
    chown postgres "$PGB_DIR"
    PGB_USER=(-u postgres)
fi
chmod -R a+rX "$PGB_DIR"
echo "bench: starting PgBouncer (transaction mode) on 127.0.0.1:$PGBOUNCER_PORT" >&2
"$PGBOUNCER" -d ${PGB_USER[@]+"${PGB_USER[@]}"} "$PGB_DIR/pgbouncer.ini" || die "PgBouncer did not start"
PGB_PSQL=(psql -h 127.0.0.1 -p "$PGBOUNCER_PORT" -U postgres -X -q -At -v ON_ERROR_STOP=1)
for _ in $(seq 1 40); do # at most ~10 s
    "${PGB_PSQL[@]}" -d "$BENCH_DB" -c "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.25
done
"${PGB_PSQL[@]}" -d "$BENCH_DB" -c "SELECT 1" >/dev/null || die "PgBouncer does not answer on port $PGBOUNCER_PORT"
pgb_xacts() { # transactions PgBouncer has carried for the benchmark database
    "${PGB_PSQL[@]}" -d pgbouncer -F ' ' -c "SHOW STATS" | awk -v db="$BENCH_DB" '$1 == db { print $2; f = 1 } END { if (!f) print 0 }'
}

echo "bench: starting instances A' B' C' on ports $((PORT + 10))..$((PORT + 12)), behind the pooler" >&2
start_server pg-a "$((PORT + 10))" "$POOLER_URL" "$DIRECT_URL"
start_server pg-b "$((PORT + 11))" "$POOLER_URL" "$DIRECT_URL"
start_server pg-c "$((PORT + 12))" "$POOLER_URL" "$DIRECT_URL"
PGB_BEFORE=$(pgb_xacts)

echo "bench: refresh-grant rotations on A' through the pooler ($CHAINS chains)" >&2
P_XACTS=$(rotations "$PG_BASE_A" "$TMP/refresh-pg.out")
read -r P_RPS P_REQ P_P50 P_P99 P_NON2XX _ < <(parse_wrk "$TMP/refresh-pg.out")
((P_NON2XX == 0)) || {
    echo "bench: $P_NON2XX refresh responses through the pooler were not 2xx (a broken chain)" >&2
    bad=1
}

echo "bench: $REVOCATIONS revocations on A', watched on B' and C'; then a burst" >&2
revocation_lag "$PG_BASE_A" "$TMP/lag-pg.out" "$PG_BASE_B" "$PG_BASE_C"
{
    read -r PB_P50 PB_P99 PB_MAX PB_BURST_RATE PG_BURST_SENT_MS PB_BURST_SEEN_MS PB_BURST_REFUSED
    read -r PC_P50 PC_P99 PC_MAX PC_BURST_RATE _ PC_BURST_SEEN_MS PC_BURST_REFUSED
} <"$TMP/lag-pg.out"
PGB_CARRIED=$(($(pgb_xacts) - PGB_BEFORE))
((PGB_CARRIED > 0)) || die "PgBouncer carried no transactions: the instances did not use the pooler"

# ---- report -------------------------------------------------------------------
echo
echo "hybrid-auth benchmark, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "cpu: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')); server on CPU $SERVER_CPU (WORKERS=1), load on CPU $LOAD_CPU"
echo "wrk: -t1 -c$CONNECTIONS -d$DURATION --latency, warm-up $WARMUP per endpoint"
echo
printf '| %-15s | %9s | %11s | %8s | %8s | %7s | %17s |\n' endpoint 'req/s' 'vs /healthz' 'p50 ms' 'p99 ms' 'non-2xx' 'DB xacts/req'
printf '|%s|%s:|%s:|%s:|%s:|%s:|%s:|\n' '-----------------' '----------' '------------' '---------' '---------' '--------' '------------------'
for i in "${!PATHS[@]}"; do
    awk -v name="${NAMES[$i]}" -v rps="${RPS[i]}" -v base="${RPS[0]}" -v p50="${P50[i]}" \
        -v p99="${P99[i]}" -v n="${NON2XX[i]}" -v x="${XACTS[i]}" -v r="${TOTAL[i]}" 'BEGIN {
        printf "| %-15s | %9.0f | %10.2fx | %8.2f | %8.2f | %7d | %8.4f (%6d) |\n",
            name, rps, rps / base, p50, p99, n, (r > 0 ? x / r : 0), x
    }'
done
refresh_row() { # name rps requests p50 p99 non2xx xacts
    awk -v name="$1" -v rps="$2" -v base="${RPS[0]}" -v r="$3" -v p50="$4" -v p99="$5" -v n="$6" -v x="$7" 'BEGIN {
        printf "| %-15s | %9.0f | %10.2fx | %8.2f | %8.2f | %7d | %8.4f (%6d) |\n",
            name, rps, rps / base, p50, p99, n, (r > 0 ? x / r : 0), x
    }'
}
refresh_row "refresh grant" "$R_RPS" "$R_REQ" "$R_P50" "$R_P99" "$R_NON2XX" "$R_XACTS"
refresh_row "refresh, pooler" "$P_RPS" "$P_REQ" "$P_P50" "$P_P99" "$P_NON2XX" "$P_XACTS"
echo
echo "DB xacts/req: Postgres transactions in the benchmark database during warm-up + run, divided by"
echo "requests sent (raw count in parentheses; background jobs and the listener's heartbeat add a few)."
echo "refresh, pooler: the same eight chains on instance A' through PgBouncer (transaction mode);"
echo "  vs /healthz is against the direct /healthz above."
echo
fails=0
goal() { # name value op target
    local verdict
    verdict=$(awk -v v="$2" -v op="$3" -v t="$4" 'BEGIN { ok = (op == ">=") ? (v >= t) : (v <= t); print ok ? "met" : "MISSED" }')
    [[ $verdict == met ]] || fails=1
    printf '| %-52s | %10s | %-8s | %-6s |\n' "$1" "$2" "$3 $4" "$verdict"
}
printf '| %-52s | %10s | %-8s | %-6s |\n' goal measured target result
printf '|%s|%s:|%s|%s|\n' '------------------------------------------------------' '-----------' '----------' '--------'
goal "GET /api/v1/ping ÷ GET /healthz, same bytes (req/s)" "$(awk -v a="${RPS[1]}" -v b="${RPS[5]}" 'BEGIN { printf "%.2f", a / b }')" ">=" 0.8
goal "GET /api/v1/ping with an API key ÷ GET /healthz (req/s)" "$(awk -v a="${RPS[6]}" -v b="${RPS[0]}" 'BEGIN { printf "%.2f", a / b }')" ">=" 0.7
goal "API-key ping after warm-up: DB xacts/req beyond /healthz's" "$(awk -v k="${RUN_XACTS[6]}" -v h="${RUN_XACTS[0]}" -v n="${REQ[6]}" 'BEGIN { d = k - h; if (d < 0) d = 0; printf "%.5f", d / n }')" "<=" 0.00001
goal "GET / signed in ÷ GET / anonymous (req/s)" "$(awk -v a="${RPS[3]}" -v b="${RPS[2]}" 'BEGIN { printf "%.2f", a / b }')" ">=" 0.4
goal "ping p99 during login storm ÷ ping p99 idle" "$(awk -v a="$S_P99" -v b="${P99[1]}" 'BEGIN { printf "%.2f", a / b }')" "<=" 3
goal "the same at 4 connections (server not saturated)" "$(awk -v a="$L_STORM_P99" -v b="$L_IDLE_P99" 'BEGIN { printf "%.2f", a / b }')" "<=" 3
goal "refresh-grant rotations/s" "$(printf '%.0f' "$R_RPS")" ">=" 1500
goal "revocation lag A→B p99 (ms, $REVOCATIONS revocations)" "$LAG_P99" "<=" 100
goal "pooler: revocation lag A'→B' p99 (ms, 3 instances)" "$PB_P99" "<=" 100
goal "pooler: revocation lag A'→C' p99 (ms, 3 instances)" "$PC_P99" "<=" 100
goal "pooler: rotations/s on A' ÷ direct rotations/s" "$(awk -v a="$P_RPS" -v b="$R_RPS" 'BEGIN { printf "%.2f", a / b }')" ">=" 0.3
echo
echo "login storm: $(printf '%.0f' "$STORM_LOGINS") wrong-password attempts/s (each hashed, or 503 past the hashing queue);"
echo "  ping during it: $(printf '%.0f' "$S_RPS") req/s, p50 $S_P50 ms, p99 $S_P99 ms (idle: p50 ${P50[1]} ms, p99 ${P99[1]} ms)"
echo "  at 4 connections: ping p99 $L_STORM_P99 ms during the storm, $L_IDLE_P99 ms idle"
echo "ping ÷ /healthz without the token header (the request size included): $(awk -v a="${RPS[1]}" -v b="${RPS[0]}" 'BEGIN { printf "%.2f", a / b }')"
echo "revocation lag A→B over $REVOCATIONS revocations: p50 $LAG_P50 ms, p99 $LAG_P99 ms, max $LAG_MAX ms"
echo "  (from sending the logout to A until B refuses the token; includes the logout round trip)"
echo "burst: $REVOCATIONS logouts sent back to back in $BURST_SENT_MS ms; B refused the last after $BURST_SEEN_MS ms"
echo "  and $BURST_REFUSED of $REVOCATIONS in all: LISTEN/NOTIFY carried at least $BURST_RATE revocations/s"
echo "through PgBouncer (transaction mode, port $PGBOUNCER_PORT, default_pool_size 20), instances A' B' C':"
echo "  refresh-grant rotations on A': $(printf '%.0f' "$P_RPS")/s (p50 $P_P50 ms, p99 $P_P99 ms) against $(printf '%.0f' "$R_RPS")/s direct:" \
    "$(awk -v a="$P_RPS" -v b="$R_RPS" 'BEGIN { printf "%.2f", a / b }')x"
echo "  revocation lag A'→B' over $REVOCATIONS revocations: p50 $PB_P50 ms, p99 $PB_P99 ms, max $PB_MAX ms"
echo "  revocation lag A'→C' over $REVOCATIONS revocations: p50 $PC_P50 ms, p99 $PC_P99 ms, max $PC_MAX ms"
echo "    (B' and C' are polled in turn after each logout, so each lag includes up to one ping of the other)"
echo "  burst: $REVOCATIONS logouts on A' in $PG_BURST_SENT_MS ms; B' refused the last after $PB_BURST_SEEN_MS ms ($PB_BURST_REFUSED of $REVOCATIONS),"
echo "    C' after $PC_BURST_SEEN_MS ms ($PC_BURST_REFUSED of $REVOCATIONS): at least $PB_BURST_RATE / $PC_BURST_RATE revocations/s"
echo "  PgBouncer carried $PGB_CARRIED transactions for $BENCH_DB during this part"
((bad == 0)) || die "some responses were not 2xx; the numbers above are not meaningful"
((fails == 0)) || die "a goal was missed"
