#!/usr/bin/env bash
# Portcullis against nginx baselines, measured in the same run on this machine: wrk on
# 127.0.0.1, keep-alive, servers pinned to core 0 and wrk to core 1, one nginx worker and one
# Portcullis runtime thread, the median of RUNS runs per point. The runs are interleaved (run 1
# of every target, then run 2, …), so a drift of the machine during the run shifts every
# target alike instead of one. Writes bench/RESULTS.md and bench/throughput.svg.
#
# Usage: bench/run.sh                       (needs nginx, wrk, python3; RUNS=3 DURATION=10)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-"1 16 64 256"}
for tool in nginx wrk python3; do command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }; done

cargo build --release --quiet --bin portcullis --example hello
bin=$PWD/target/release/portcullis
dir=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

pin_server=(); pin_client=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin_server=(taskset -c 0); pin_client=(taskset -c 1); fi

PORTCULLIS=18180 NGINX_204=18181 UPSTREAM=18182 NGINX_PROXY=18183 NGINX_AUTH=18184 PORTCULLIS_LIMITED=18185 HYPER_204=18186
sed -e "s|@DIR@|$dir|g" -e "s|@UPSTREAM@|$UPSTREAM|g" -e "s|@PORTCULLIS@|$PORTCULLIS|g" \
    -e "s|@NGINX_204@|$NGINX_204|g" -e "s|@NGINX_PROXY@|$NGINX_PROXY|g" -e "s|@NGINX_AUTH@|$NGINX_AUTH|g" \
    bench/nginx.conf.in > "$dir/nginx.conf"
sed -e "s|@DIR@|$dir|g" -e "s|@UPSTREAM@|$UPSTREAM|g" bench/upstream.conf.in > "$dir/upstream.conf"

token=$(bench_token "$bin" "$dir" wrk full)
# Rate limits off: the benchmark sends far more than Quable's 6,000 requests per 10 minutes,
# and a 429 is not the answer being measured. Any non-2xx answer fails the run.
cat > "$dir/portcullis.toml" <<TOML
log = "warn"
[rate_limits]
enabled = false
[[routes]]
prefix = "/"
upstream = "http://127.0.0.1:$UPSTREAM"
TOML
# The same, with the rate limiter on (limits no run reaches): its cost per request (issue #6).
cat > "$dir/portcullis-limited.toml" <<TOML
log = "warn"
[rate_limits]
enabled = true
short_limit = 1000000000
long_limit = 1000000000
TOML
"${pin_server[@]}" nginx -c "$dir/nginx.conf" & pids+=($!)
"${pin_server[@]}" nginx -c "$dir/upstream.conf" & pids+=($!)
"${pin_server[@]}" "$bin" --config "$dir/portcullis.toml" --data-dir "$dir" serve --threads 1 --listen "127.0.0.1:$PORTCULLIS" >/dev/null & pids+=($!)
# The Rust HTTP stack's own limit: bare hyper answering 204 on one thread (bench/hello.rs).
"${pin_server[@]}" "$PWD/target/release/examples/hello" "127.0.0.1:$HYPER_204" & pids+=($!)
"${pin_server[@]}" "$bin" --config "$dir/portcullis-limited.toml" --data-dir "$dir" serve --threads 1 --listen "127.0.0.1:$PORTCULLIS_LIMITED" >/dev/null & pids+=($!)
sleep 1

auth=(-H "Authorization: Bearer $token")
original=(-H "X-Original-Method: GET" -H "X-Original-URI: /items")
declare -A targets=(
  [nginx_204]="http://127.0.0.1:$NGINX_204/"
  [hyper_204]="http://127.0.0.1:$HYPER_204/"
  [portcullis_verify]="http://127.0.0.1:$PORTCULLIS/auth/verify"
  [portcullis_verify_rate_limited]="http://127.0.0.1:$PORTCULLIS_LIMITED/auth/verify"
  [nginx_proxy]="http://127.0.0.1:$NGINX_PROXY/items"
  [portcullis_proxy]="http://127.0.0.1:$PORTCULLIS/items"
  [nginx_auth_request_proxy]="http://127.0.0.1:$NGINX_AUTH/items"
)
order=(nginx_204 hyper_204 portcullis_verify portcullis_verify_rate_limited nginx_proxy portcullis_proxy nginx_auth_request_proxy)

results=$dir/results.tsv
: > "$results"
for c in $CONNECTIONS; do
  threads=1
  for run in $(seq "$RUNS"); do
    for name in "${order[@]}"; do
      args=()
      case $name in
        portcullis_verify|portcullis_verify_rate_limited) args=("${auth[@]}" "${original[@]}") ;;
        portcullis_proxy|nginx_auth_request_proxy) args=("${auth[@]}") ;;
      esac
      out=$("${pin_client[@]}" wrk -t"$threads" -c"$c" -d"${DURATION}s" "${args[@]}" "${targets[$name]}")
      if grep -q 'Non-2xx' <<<"$out"; then echo "$name c=$c: non-2xx answers, not a valid measurement:" >&2; echo "$out" >&2; exit 1; fi
      rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
      printf '%s\t%s\t%s\t%s\n' "$name" "$c" "$run" "$rps" >> "$results"
      echo "$name c=$c run=$run: $rps req/s"
    done
  done
done

python3 bench/report.py "$results" bench/RESULTS.md bench/throughput.svg \
  "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)" \
  "RUNS=$RUNS DURATION=$DURATION bench/run.sh"
echo "Wrote bench/RESULTS.md and bench/throughput.svg"
