#!/usr/bin/env bash
# Contract test: schemathesis generates requests from /api/docs.json of a live server and
# checks every response against the document: no 5xx, documented status codes, content
# types and schemas. Runs with a Full Access token, a Read Access token and an administrator's
# session (which alone reaches token management).
#
# A fixed seed keeps CI repeatable; SCHEMATHESIS_SEED=random explores afresh.
#
# Usage: tests/contract/schemathesis.sh [path/to/portcullis]   (needs `pip install schemathesis`)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/debug/portcullis}
command -v schemathesis >/dev/null || { echo "schemathesis is not installed (python3 -m pip install schemathesis)" >&2; exit 1; }

dir=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

printf 'contract-password-1\n' | "$bin" --data-dir "$dir" user create --username admin --email admin@example.com --admin --password-stdin >/dev/null
full=$("$bin" --data-dir "$dir" token create --name contract-full --access full --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
read=$("$bin" --data-dir "$dir" token create --name contract-read --access read --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$bin" --data-dir "$dir" --log warn serve --listen 127.0.0.1:0 >"$dir/out" 2>"$dir/err" &
server=$!
for _ in $(seq 100); do grep -q 'listening on' "$dir/out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$dir/out" | head -1)
[ -n "$base" ] || { echo "the server did not start:"; cat "$dir/err"; exit 1; }

session=$(curl -sf "$base/api/sessions" -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"contract-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

seed=(--seed "${SCHEMATHESIS_SEED:-20261129}")
[ "${SCHEMATHESIS_SEED:-}" = random ] && seed=()

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
# An administrator's session last: it reaches the token-management operations too.
for kind in full read session; do
  case $kind in full) token=$full ;; read) token=$read ;; session) token=$session ;; esac
  echo "==> schemathesis with credential: $kind"
  schemathesis run "$base/api/docs.json" --url "$base" \
    -H "Authorization: Bearer $token" \
    --checks "$checks" --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
    "${seed[@]}" \
    --phases examples,coverage,fuzzing --no-color
done
if grep -q 'panicked' "$dir/err"; then echo "the server panicked:"; cat "$dir/err"; exit 1; fi
