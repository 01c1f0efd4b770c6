#!/usr/bin/env bash
# Fuzzes the JSON API from its own description (GET /api/openapi.json) with
# Schemathesis and every one of its default checks: no 5xx, and every status
# code, header, content type and body as the document says. Starts the built
# binary on a free port against a fresh database, with a user holding every
# scope, a real bearer token from the password grant and a web session (for
# POST /auth/token), and cleans up after.
#
# Five runs, so the fuzzer does not pull the rug from under itself: the
# first covers every operation but the two that end the token's session, then
# each of those (POST /api/v1/auth/logout, DELETE /api/v1/me) gets a run and a
# fresh token of its own, last; before them, everything again with an API key
# as the bearer credential (logout aside: it would end the key), and with a
# service account's token.
#
#   .ci/schemathesis.sh           # after `cargo build`
#   MAX_EXAMPLES=200 SEED=7 .ci/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${MAX_EXAMPLES:-100}
# A fixed seed keeps CI reproducible; set SEED to explore further.
SEED=${SEED:-20}
BIN=${CARGO_TARGET_DIR:-target}/debug/hybrid-auth
PG=${PG:-postgres://postgres@127.0.0.1:5432}

if [ "$(schemathesis --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
[ -x "$BIN" ] || { echo "no $BIN: run cargo build first" >&2; exit 1; }

db="ha_schemathesis_$$"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL="$PG/$db" BIND_ADDR="127.0.0.1:$port" PUBLIC_URL="$base" \
    WORKERS=1 MAIL_OUTBOX_DIR="$work/mail" RUST_LOG=warn LOG_FORMAT=pretty

"$BIN" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -fs "$base/readyz" >/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
    sleep 0.2
done
curl -fs "$base/readyz" >/dev/null

email=fuzz@example.com
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
all_scopes="profile:read profile:write notes:read notes:write keys:read keys:write stats:read"
# shellcheck disable=SC2086
printf '%s\n' "$password" | "$BIN" user create --email "$email" --verified \
    --scopes $all_scopes >/dev/null

token() {
    curl -fs "$base/api/v1/auth/token" \
        --data-urlencode grant_type=password \
        --data-urlencode "username=$email" \
        --data-urlencode "password=$password" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# A web session too, for POST /auth/token: the login form's cookie, and the
# session's CSRF token from a page's <meta name="csrf-token">.
jar="$work/cookies"
meta_csrf() {
    curl -fs -b "$jar" -c "$jar" "$base$1" |
        python3 -c 'import re, sys; print(re.search(r"name=\"csrf-token\" content=\"([^\"]*)\"", sys.stdin.read()).group(1))'
}
curl -fs -o /dev/null -b "$jar" -c "$jar" "$base/login" \
    --data-urlencode "csrf_token=$(meta_csrf /login)" \
    --data-urlencode "email=$email" --data-urlencode "password=$password"
csrf=$(meta_csrf /account)
cookie=$(awk '$6 == "session" { print $7 }' "$jar")
[ -n "$cookie" ] || { echo "signing in for a web session failed" >&2; exit 1; }

# An API key of the user (made with a fresh token), and a service account's
# token: the runs below use each as the bearer credential.
api_key() {
    curl -fs "$base/api/v1/api-keys" -H "Authorization: Bearer $(token)" \
        -H 'Content-Type: application/json' \
        -d "{\"name\": \"fuzz\", \"scope\": \"$all_scopes\"}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])'
}
# shellcheck disable=SC2086
client_json=$("$BIN" client create --name fuzz --scopes $all_scopes --json)
client_id=$(printf '%s' "$client_json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["client_id"])')
client_secret=$(printf '%s' "$client_json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["client_secret"])')
client_token() {
    curl -fs "$base/api/v1/auth/token" -u "$client_id:$client_secret" \
        --data-urlencode grant_type=client_credentials |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# The credentials go to the document's security schemes (not as fixed
# headers), so the checks that leave them out really do. BEARER picks the
# credential: a sign-in's access token (the default), an API key, or a
# service account's token.
fuzz() {
    cat >"$work/schemathesis.toml" <<EOF
[auth.openapi.bearer]
bearer = "${BEARER:-$(token)}"
[auth.openapi.session_cookie]
api_key = "$cookie"
[auth.openapi.csrf_header]
api_key = "$csrf"

# A WebAuthn credential is a signature over a challenge the server just
# drew: no generator can make a valid one, so for a schema-valid body the
# documented answer is 400 invalid_credential. Schemathesis exempts token
# endpoints from this check for the same reason (a schema describes which
# requests are well formed, not which credentials exist); these four get the
# same exemption, every other check stays as it is.
[[operations]]
include-path-regex = "^/(account/passkeys|login/passkey|login/mfa/passkey|account/reauth/passkey)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
EOF
    # Bounded: examples per operation, and a hard stop.
    timeout 600 schemathesis --no-color --config-file "$work/schemathesis.toml" \
        run "$base/api/openapi.json" \
        --max-examples "$MAX_EXAMPLES" --seed "$SEED" \
        --request-timeout 10 --workers 1 "$@"
}

passed=0
failed=0
run() {
    if fuzz "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
# Every credential is fetched before any fuzzing: the fuzzer's wrong
# passwords soon throttle sign-ins from this address.
key=$(api_key)
logout_token=$(token)
delete_token=$(token)
client=$(client_token)
echo "== schemathesis: every operation but logout and account deletion"
run --exclude-operation-id logout --exclude-operation-id delete_me
echo "== schemathesis: with an API key"
BEARER=$key run --exclude-operation-id logout
echo "== schemathesis: with a service account's token"
BEARER=$client run
# Last: these end the session, the account and its keys.
echo "== schemathesis: logout"
BEARER=$logout_token run --include-operation-id logout
echo "== schemathesis: delete_me"
BEARER=$delete_token run --include-operation-id delete_me
if grep -q panicked "$work/server.log"; then
    failed=$((failed + 1))
fi
if [ "$failed" -ne 0 ]; then
    echo "== server log"
    cat "$work/server.log"
fi
echo "schemathesis: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
