#!/usr/bin/env bash
# Requests per second of `GET /api/token` (a cached Read Access token) beside a bare hyper
# server answering 204 (bench/hello.rs), measured in the same run: wrk, keep-alive, 64 connections, 10 s each,
# both servers on one runtime thread, pinned to core 0, and wrk to core 1 when taskset exists.
#
# Usage: bench/wrk-token.sh            (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet --bin portcullis --example hello
pin_server=(); pin_client=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin_server=(taskset -c 0); pin_client=(taskset -c 1); fi

dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
bin=target/release/portcullis
token=$(bench_token "$bin" "$dir" wrk read)
"${pin_server[@]}" $bin --data-dir "$dir" --log warn serve --threads 1 --listen 127.0.0.1:18080 >/dev/null &
"${pin_server[@]}" target/release/examples/hello 127.0.0.1:18081 >/dev/null &
sleep 1

run() { "${pin_client[@]}" wrk -t1 -c64 -d10s "$@" | awk '/Requests\/sec/ {print $2}'; }
hello=$(run http://127.0.0.1:18081/)
portcullis=$(run -H "Authorization: Bearer $token" http://127.0.0.1:18080/api/token)
echo "hyper 204:             $hello req/s"
echo "portcullis /api/token: $portcullis req/s"
python3 -c "print(f'ratio: {float($portcullis)/float($hello):.2f} x bare hyper')"
