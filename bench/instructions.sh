#!/usr/bin/env bash
# User-space instructions per request, counted by valgrind's callgrind: a figure that does not
# move with the machine's load, unlike requests per second on a shared VM. Each server runs
# under callgrind on one runtime thread; a client sends WARMUP requests on one keep-alive
# connection, the counters are zeroed, then REQUESTS more are counted.
#
#   bare hyper answering 204 (bench/hello.rs)  - the Rust HTTP stack's own cost
#   Portcullis /auth/verify with a cached token   - what forward-auth adds to it
#   Portcullis reverse proxy to an nginx upstream - when nginx is installed
#
# Under valgrind, sha2 does not see the CPU's SHA extensions and hashes in software: the
# Portcullis figures include about 3,500 instructions of SHA-256 that a real CPU does in a
# few hundred.
#
# Usage: bench/instructions.sh            (needs valgrind, python3; nginx for the proxy row)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
WARMUP=${WARMUP:-2000}
REQUESTS=${REQUESTS:-5000}
for tool in valgrind callgrind_control callgrind_annotate python3; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install valgrind)" >&2; exit 1; }
done

cargo build --release --quiet --bin portcullis --example hello
bin=$PWD/target/release/portcullis
hello=$PWD/target/release/examples/hello
dir=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

PORTCULLIS=18280 HYPER=18281 UPSTREAM=18282
token=$(bench_token "$bin" "$dir" callgrind full)
cat > "$dir/portcullis.toml" <<TOML
log = "warn"
[rate_limits]
enabled = false
[[routes]]
prefix = "/items"
upstream = "http://127.0.0.1:$UPSTREAM"
TOML
if command -v nginx >/dev/null; then
  sed -e "s|@DIR@|$dir|g" -e "s|@UPSTREAM@|$UPSTREAM|g" bench/upstream.conf.in > "$dir/upstream.conf"
  nginx -c "$dir/upstream.conf" & pids+=($!)
fi

# send PORT COUNT PATH [HEADER...]: COUNT requests, one at a time, on one connection.
send() {
  python3 - "$@" <<'PY'
import socket, sys
port, count, path, headers = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
request = (f"GET {path} HTTP/1.1\r\nHost: bench\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()
with socket.create_connection(("127.0.0.1", port)) as s:
    for _ in range(count):
        s.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("the server closed the connection")
            answer += chunk
        status = answer.split(b" ", 2)[1]
        if not status.startswith(b"2"):
            sys.exit(f"{path} answered {status.decode()}, not a valid measurement")
PY
}

# measure NAME PORT PATH [HEADER...] -- COMMAND...: instructions per request of COMMAND.
measure() {
  local name=$1 port=$2 path=$3; shift 3
  local headers=()
  while [ "$1" != "--" ]; do headers+=("$1"); shift; done
  shift
  valgrind --tool=callgrind --callgrind-out-file="$dir/$name.%p" "$@" >/dev/null 2>"$dir/$name.log" &
  local pid=$!
  for _ in $(seq 120); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), timeout=1)" 2>/dev/null && break
    sleep 0.5
  done
  send "$port" "$WARMUP" "$path" "${headers[@]}"
  callgrind_control -z "$pid" >/dev/null 2>&1
  send "$port" "$REQUESTS" "$path" "${headers[@]}"
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local total
  total=$(callgrind_annotate "$dir/$name.$pid.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  echo "$name $((total / REQUESTS))"
}

results=$dir/results
{
  measure hyper_204 "$HYPER" / -- "$hello" "127.0.0.1:$HYPER"
  measure portcullis_verify "$PORTCULLIS" /auth/verify "Authorization: Bearer $token" \
    "X-Original-Method: GET" "X-Original-URI: /items" -- \
    "$bin" --config "$dir/portcullis.toml" --data-dir "$dir" serve --threads 1 --listen "127.0.0.1:$PORTCULLIS"
  if command -v nginx >/dev/null; then
    measure portcullis_proxy "$PORTCULLIS" /items "Authorization: Bearer $token" -- \
      "$bin" --config "$dir/portcullis.toml" --data-dir "$dir" serve --threads 1 --listen "127.0.0.1:$PORTCULLIS"
  fi
} | tee "$results"
python3 - "$results" <<'PY'
import sys
counts = dict(line.split() for line in open(sys.argv[1]))
counts = {name: int(value) for name, value in counts.items()}
hyper = counts["hyper_204"]
for name, value in counts.items():
    print(f"{name:20} {value:>8,} instructions per request  {value / hyper:5.2f} x bare hyper")
PY
