#!/usr/bin/env bash
# Issue #8 item 4: verification with 1,000 tokens in the store beside 1,000,000, measured in the
# same run; the time to create them through the CLI (`token import`); the server's resident
# memory, and its bound by the cache capacity. Writes bench/SCALE.md.
#
# Usage: bench/scale.sh            (needs wrk, python3; SMALL=1000 LARGE=1000000 DURATION=5)
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=${SMALL:-1000}
LARGE=${LARGE:-1000000}
DURATION=${DURATION:-5}
for tool in wrk python3; do command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }; done

cargo build --release --quiet --bin portcullis
bin=$PWD/target/release/portcullis
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
pin_server=(); pin_client=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin_server=(taskset -c 0); pin_client=(taskset -c 1); fi
port=18190
url="http://127.0.0.1:$port/auth/verify"
headers=(-H "X-Original-Method: GET" -H "X-Original-URI: /items")

start() { # start DIR CACHE_CAPACITY
  printf 'log = "warn"\n[rate_limits]\nenabled = false\n[cache]\ncapacity = %s\n' "$2" > "$1/portcullis.toml"
  "${pin_server[@]}" "$bin" --config "$1/portcullis.toml" --data-dir "$1" serve --threads 1 --listen "127.0.0.1:$port" >/dev/null &
  server=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "the server did not start" >&2; exit 1
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$server/status"; }
# p50 latency in microseconds and requests/s of one connection presenting one token.
one_token() { # one_token TOKEN
  local out
  out=$("${pin_client[@]}" wrk -t1 -c1 -d"${DURATION}s" --latency -H "Authorization: Bearer $1" "${headers[@]}" "$url")
  if grep -q 'Non-2xx' <<<"$out"; then echo "non-2xx answers:" >&2; echo "$out" >&2; exit 1; fi
  awk '/^ +50%/ {v=$2; if (v ~ /us$/) {sub("us","",v); p=v} else if (v ~ /ms$/) {sub("ms","",v); p=v*1000} else {sub("s","",v); p=v*1e6}} /Requests\/sec/ {r=$2} END {printf "%.1f %.0f\n", p, r}' <<<"$out"
}
random_tokens() { # random_tokens SECRETS -> requests/s with 64 connections
  local out
  out=$(SECRETS=$1 "${pin_client[@]}" wrk -t1 -c64 -d"${DURATION}s" -s bench/random-token.lua "$url")
  if grep -q 'Non-2xx' <<<"$out"; then echo "non-2xx answers:" >&2; echo "$out" >&2; exit 1; fi
  awk '/Requests\/sec/ {printf "%.0f\n", $2}' <<<"$out"
}

results=$work/results.tsv
for n in $SMALL $LARGE; do
  dir=$work/store-$n
  mkdir -p "$dir"
  python3 bench/gen_tokens.py "$n" "$dir"
  started=$(date +%s.%N)
  "$bin" --data-dir "$dir" token import --input "$dir/tokens.jsonl" 2>/dev/null
  import_s=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
  token=$(tail -n 1 "$dir/secrets.txt")
  echo "$n tokens imported in $import_s s"

  start "$dir" 100000
  read -r cached_us cached_rps < <(one_token "$token")
  rss_idle=$(rss_mib)
  random_rps=$(random_tokens "$dir/secrets.txt")
  rss_random=$(rss_mib)
  stop
  start "$dir" 0
  read -r store_us store_rps < <(one_token "$token")
  stop
  start "$dir" 10000
  random_small_cache_rps=$(random_tokens "$dir/secrets.txt")
  rss_small_cache=$(rss_mib)
  stop
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$import_s" "$cached_us" "$cached_rps" "$store_us" "$store_rps" \
    "$rss_idle" "$random_rps" "$rss_random" "$random_small_cache_rps" "$rss_small_cache" >> "$results"
  rm -f "$dir/tokens.jsonl"
done

python3 - "$results" "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
  "SMALL=$SMALL LARGE=$LARGE DURATION=$DURATION bench/scale.sh" > bench/SCALE.md <<'PY'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
small, large = rows
def ratio(a, b):
    return f"{float(b) / float(a):.2f}×"
print("# Scale: 1,000 tokens beside 1,000,000\n")
print(f"Machine: {sys.argv[2]}. Command: `{sys.argv[3]}`. One Portcullis runtime thread on core 0,")
print("wrk on core 1; `/auth/verify` with rate limits off. Latency is wrk's p50 over one")
print("keep-alive connection; \"random tokens\" sends every request with a token drawn at random")
print("from all the tokens in the store (64 connections), so most are cache misses at first.\n")
print(f"| | {int(small[0]):,} tokens | {int(large[0]):,} tokens | large ÷ small |")
print("|---|---:|---:|---:|")
print(f"| creating them: `portcullis token import` | {small[1]} s | {large[1]} s | |")
print(f"| p50 latency, cached token | {small[2]} µs | {large[2]} µs | {ratio(small[2], large[2])} |")
print(f"| p50 latency, cache off (every request reads the store) | {small[4]} µs | {large[4]} µs | {ratio(small[4], large[4])} |")
print(f"| req/s, one connection, cached | {small[3]} | {large[3]} | {ratio(small[3], large[3])} |")
print(f"| req/s, one connection, cache off | {small[5]} | {large[5]} | {ratio(small[5], large[5])} |")
print(f"| req/s, random tokens, cache capacity 100,000 | {small[7]} | {large[7]} | {ratio(small[7], large[7])} |")
print(f"| req/s, random tokens, cache capacity 10,000 | {small[9]} | {large[9]} | {ratio(small[9], large[9])} |")
print(f"| resident memory after the one-token runs (MiB) | {small[6]} | {large[6]} | |")
print(f"| resident memory after random tokens, capacity 100,000 (MiB) | {small[8]} | {large[8]} | |")
print(f"| resident memory after random tokens, capacity 10,000 (MiB) | {small[10]} | {large[10]} | |")
print()
print("The cache (`[cache] capacity`, default 100,000 entries) bounds the memory: when it is full it")
print("is emptied and refilled, so resident memory stops growing at the capacity, whatever the")
print("number of tokens in the store.")
PY
echo "Wrote bench/SCALE.md"; cat bench/SCALE.md
