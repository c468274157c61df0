# Sourced by the bench scripts: the set-up they share.

# bench_token BIN DIR NAME ACCESS: creates the benchmark's administrator in the data directory
# DIR and prints a new token of ACCESS (read or full) named NAME.
bench_token() {
  local bin=$1 dir=$2 name=$3 access=$4
  printf 'bench-password-1\n' | "$bin" --data-dir "$dir" user create --username bench \
    --email bench@example.com --admin --password-stdin >/dev/null
  "$bin" --data-dir "$dir" token create --name "$name" --access "$access" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
