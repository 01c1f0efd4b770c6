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
#   2. the goals of the performance issue:
#        ping ÷ healthz sent the same bytes               ≥ 0.8
#        signed-in / ÷ anonymous /                        ≥ 0.4
#        ping p99 during a login storm ÷ ping p99 idle    ≤ 3
#          (at full load, and again at 4 connections: not saturated)
#        refresh-grant rotations/s                        ≥ 1500
#        cross-instance revocation lag p99 (200 revocations, two instances) ≤ 100 ms
#   3. how many revocations per second LISTEN/NOTIFY carried in a burst.
#
# DB transactions come from pg_stat_database (xact_commit + xact_rollback of
# the benchmark database) read before and after each endpoint. Postgres
# publishes them lazily, so the script waits SETTLE seconds before each reading.
#
# Usage:   bash bench/run.sh
# Needs:   cargo, wrk, curl, psql, python3, taskset; Postgres at 127.0.0.1:5432
#          with trust auth for user postgres. Only loopback traffic; every load
#          is bounded in time and count.
#
# Environment (defaults in brackets):
#   PORT         [18080]  port of instance A (instance B uses PORT+1)
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

die() {
    echo "bench: $*" >&2
    exit 1
}

[[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65535)) || die "PORT must be a port number"
[[ $CONNECTIONS =~ ^[0-9]+$ ]] && ((CONNECTIONS >= 1)) || die "CONNECTIONS must be >= 1"
[[ $SETTLE =~ ^[0-9]+$ ]] || die "SETTLE must be whole seconds"
[[ $REVOCATIONS =~ ^[0-9]+$ ]] && ((REVOCATIONS >= 10 && REVOCATIONS <= 5000)) || die "REVOCATIONS must be 10..5000"
[[ $BENCH_DB =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must match [a-z_][a-z0-9_]*"
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
(($(nproc) >= 2)) || die "needs 2 cores (server on one, load on the other)"

BASE="http://127.0.0.1:$PORT"
BASE_B="http://127.0.0.1:$((PORT + 1))"
PSQL=(psql -h 127.0.0.1 -U postgres -d postgres -X -q -At -v ON_ERROR_STOP=1)
TMP=$(mktemp -d)
PIDS=()
SERVER_CPU=0
LOAD_CPU=1

cleanup() {
    local rc=$?
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
    if ((rc != 0)); then
        for log in "$TMP"/server-*.log; do
            [[ -s $log ]] || continue
            echo "---- last lines of $(basename "$log") ----" >&2
            tail -n 20 "$log" >&2 || true
        done
    fi
    "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$TMP"
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
for p in "$PORT" "$((PORT + 1))"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        die "port $p is already in use (set PORT=...)"
    fi
done
"${PSQL[@]}" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null

start_server() { # $1 = name, $2 = port
    env DATABASE_URL="postgres://postgres@127.0.0.1:5432/$BENCH_DB" \
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

grant() { # prints the token response of a password grant
    curl -sS --max-time 10 -X POST "$BASE/api/v1/auth/token" \
        --data-urlencode grant_type=password --data-urlencode "username=$EMAIL" \
        --data-urlencode "password=$PASSWORD"
}
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
TOKEN=$(grant | json_field access_token) || die "no access token"

# ---- endpoints ----------------------------------------------------------------
# Row 5 is the baseline for ping: /healthz sent the very same bytes (the
# ~570-byte Authorization header), so the ratio measures what verifying the
# token costs, not what reading a larger request costs.
NAMES=("/healthz" "/api/v1/ping" "/ (anonymous)" "/ (signed in)" "/api/v1/me" "/healthz +token")
PATHS=(/healthz /api/v1/ping / / /api/v1/me /healthz)
HEADERS=("" "Authorization: Bearer $TOKEN" "" "Cookie: $SESSION_COOKIE" "Authorization: Bearer $TOKEN" "Authorization: Bearer $TOKEN")

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
declare -a RPS REQ P50 P99 NON2XX ERRS XACTS TOTAL
bad=0
for i in "${!PATHS[@]}"; do
    echo "bench: ${NAMES[$i]}" >&2
    before=$(db_xacts)
    warm_req=0
    if ((WARMUP_S > 0)); then
        run_endpoint "$i" "$WARMUP" "$TMP/warm.$i"
        read -r _ warm_req _ _ _ _ < <(parse_wrk "$TMP/warm.$i")
    fi
    run_endpoint "$i" "$DURATION" "$TMP/wrk.$i"
    read -r RPS[i] REQ[i] P50[i] P99[i] NON2XX[i] ERRS[i] < <(parse_wrk "$TMP/wrk.$i")
    [[ ${RPS[i]} != 0 ]] || die "could not read wrk output for ${NAMES[$i]}"
    sleep "$SETTLE"
    after=$(db_xacts)
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
RT_LIST=""
for _ in $(seq 1 $CHAINS); do
    rt=$(grant | json_field refresh_token) || die "no refresh token"
    RT_LIST="$RT_LIST $rt"
done
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
echo "bench: refresh-grant rotations ($CHAINS chains)" >&2
sleep "$SETTLE"
before=$(db_xacts)
RT_LIST="$RT_LIST" wrk_pinned "$DURATION" -t"$CHAINS" -c"$CHAINS" --latency -s "$TMP/refresh.lua" \
    "$BASE/api/v1/auth/token" >"$TMP/refresh.out"
read -r R_RPS R_REQ R_P50 R_P99 R_NON2XX _ < <(parse_wrk "$TMP/refresh.out")
sleep "$SETTLE"
R_XACTS=$(($(db_xacts) - before))
((R_NON2XX == 0)) || {
    echo "bench: $R_NON2XX refresh responses were not 2xx (a broken chain)" >&2
    bad=1
}

# ---- cross-instance revocation lag --------------------------------------------
echo "bench: starting instance B on $BASE_B" >&2
start_server b "$((PORT + 1))"
echo "bench: $REVOCATIONS revocations on A, watched on B; then a burst" >&2
taskset -c "$LOAD_CPU" timeout 600 python3 - "$BASE" "$BASE_B" "$EMAIL" "$PASSWORD" "$REVOCATIONS" >"$TMP/lag.out" <<'PY'
import http.client, json, sys, time, urllib.parse
a_url, b_url, email, password, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
def conn(url):
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    return http.client.HTTPConnection(host, port, timeout=10)
A, B = conn(a_url), conn(b_url)
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
tokens = [token() for _ in range(2 * n)]
for t in tokens:
    assert ping(B, t) == 200  # B has verified (and cached) every token
lags = []
for t in tokens[:n]:
    t0 = time.perf_counter()
    s, _ = call(A, "POST", "/api/v1/auth/logout", headers={"Authorization": "Bearer " + t})
    assert s == 204, s
    while ping(B, t) != 401:
        if time.perf_counter() - t0 > 5:
            sys.exit("instance B still accepts a revoked token after 5 s")
    lags.append((time.perf_counter() - t0) * 1000)
lags.sort()
pct = lambda p: lags[min(len(lags) - 1, int(round(p / 100 * len(lags))) - 1)]
# Burst: revoke the other n sessions back to back on A, then wait until B
# refuses the last one.
burst = tokens[n:]
t0 = time.perf_counter()
for t in burst:
    s, _ = call(A, "POST", "/api/v1/auth/logout", headers={"Authorization": "Bearer " + t})
    assert s == 204, s
sent = time.perf_counter() - t0
while ping(B, burst[-1]) != 401:
    if time.perf_counter() - t0 > 10:
        sys.exit("instance B did not see the burst within 10 s")
seen = time.perf_counter() - t0
refused = sum(1 for t in burst if ping(B, t) == 401)
print(f"{pct(50):.2f} {pct(99):.2f} {lags[-1]:.2f} {len(burst) / seen:.0f} {sent * 1000:.0f} {seen * 1000:.0f} {refused}")
PY
read -r LAG_P50 LAG_P99 LAG_MAX BURST_RATE BURST_SENT_MS BURST_SEEN_MS BURST_REFUSED <"$TMP/lag.out"

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
awk -v rps="$R_RPS" -v base="${RPS[0]}" -v p50="$R_P50" -v p99="$R_P99" -v n="$R_NON2XX" -v x="$R_XACTS" -v r="$R_REQ" 'BEGIN {
    printf "| %-15s | %9.0f | %10.2fx | %8.2f | %8.2f | %7d | %8.4f (%6d) |\n",
        "refresh grant", rps, rps / base, p50, p99, n, (r > 0 ? x / r : 0), x
}'
echo
echo "DB xacts/req: Postgres transactions in the benchmark database during warm-up + run, divided by"
echo "requests sent (raw count in parentheses; background jobs and the listener's heartbeat add a few)."
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
goal "GET / signed in ÷ GET / anonymous (req/s)" "$(awk -v a="${RPS[3]}" -v b="${RPS[2]}" 'BEGIN { printf "%.2f", a / b }')" ">=" 0.4
goal "ping p99 during login storm ÷ ping p99 idle" "$(awk -v a="$S_P99" -v b="${P99[1]}" 'BEGIN { printf "%.2f", a / b }')" "<=" 3
goal "the same at 4 connections (server not saturated)" "$(awk -v a="$L_STORM_P99" -v b="$L_IDLE_P99" 'BEGIN { printf "%.2f", a / b }')" "<=" 3
goal "refresh-grant rotations/s" "$(printf '%.0f' "$R_RPS")" ">=" 1500
goal "revocation lag A→B p99 (ms, $REVOCATIONS revocations)" "$LAG_P99" "<=" 100
echo
echo "login storm: $(printf '%.0f' "$STORM_LOGINS") wrong-password attempts/s (each hashed, or 503 past the hashing queue);"
echo "  ping during it: $(printf '%.0f' "$S_RPS") req/s, p50 $S_P50 ms, p99 $S_P99 ms (idle: p50 ${P50[1]} ms, p99 ${P99[1]} ms)"
echo "  at 4 connections: ping p99 $L_STORM_P99 ms during the storm, $L_IDLE_P99 ms idle"
echo "ping ÷ /healthz without the token header (the request size included): $(awk -v a="${RPS[1]}" -v b="${RPS[0]}" 'BEGIN { printf "%.2f", a / b }')"
echo "revocation lag A→B over $REVOCATIONS revocations: p50 $LAG_P50 ms, p99 $LAG_P99 ms, max $LAG_MAX ms"
echo "  (from sending the logout to A until B refuses the token; includes the logout round trip)"
echo "burst: $REVOCATIONS logouts sent back to back in $BURST_SENT_MS ms; B refused the last after $BURST_SEEN_MS ms"
echo "  and $BURST_REFUSED of $REVOCATIONS in all: LISTEN/NOTIFY carried at least $BURST_RATE revocations/s"
((bad == 0)) || die "some responses were not 2xx; the numbers above are not meaningful"
((fails == 0)) || die "a goal was missed"
