#!/usr/bin/env bash
# Runs schemathesis, with all its checks, against `sitrep serve --demo` on a free port: the
# OpenAPI document must say exactly what the server does. Deterministic and bounded, so a run is
# repeatable and takes a few minutes.
#
#   tools/schemathesis.sh [path/to/sitrep]   (default: $CARGO_TARGET_DIR/debug/sitrep)
#
# Extra arguments after the binary go to `st run` (e.g. `--include-path-regex /parties`).
set -euo pipefail
cd "$(dirname "$0")/.."

sitrep="${1:-${CARGO_TARGET_DIR:-target}/debug/sitrep}"
shift || true
[ -x "$sitrep" ] || { echo "no sitrep binary at $sitrep; build it with cargo build -p sitrep" >&2; exit 2; }
command -v st >/dev/null 2>&1 || { echo "schemathesis is missing: python3 -m pip install schemathesis" >&2; exit 2; }

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
"$sitrep" serve --demo --data "$work/data" --listen "127.0.0.1:$port" >"$work/out" 2>"$work/log" &
server=$!

# The demo prints each person's API token; the commander (maria) can do the most.
for _ in $(seq 1 300); do
    grep -q '^For the CLI' "$work/out" 2>/dev/null && curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$work/log" >&2; echo "sitrep serve --demo stopped" >&2; exit 1; }
    sleep 0.2
done
token="$(awk '$1 == "maria" { print $NF }' "$work/out")"
[ -n "$token" ] || { cat "$work/out" "$work/log" >&2; echo "the demo printed no token for maria" >&2; exit 1; }

# schemathesis keeps its state in the working directory: run it in the temporary one.
config="$PWD/tools/schemathesis.toml"
run() {
    (cd "$work" && st --config-file "$config" run "$base/api/v1/openapi.json" \
        --checks all \
        --header "Authorization: Bearer $token" \
        --max-examples 15 --generation-deterministic \
        --workers 1 --no-color \
        "$@")
}
# Revoking a token can revoke the one the run signs in with (the stateful phase finds its id by
# listing the caller's tokens), which would leave every later operation a 401: that operation
# runs alone, last.
revoke='DELETE /api/v1/users/{name}/tokens/{token}'
status=0
run --exclude-name "$revoke" "$@" || status=$?
[ "$status" -ne 0 ] || run --include-name "$revoke" "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "== server log (last 40 lines)" >&2
    tail -n 40 "$work/log" >&2
fi
exit "$status"
