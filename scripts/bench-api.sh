#!/usr/bin/env bash
# Measures Coffre's HTTP API on both stores, side by side in one run:
# create, get-by-id and lookup-by-email at concurrency 1 and 16, each op on
# its own for DURATION, with `coffre bench` (loopback only), which also
# reports the CPU time the server (from its /metrics) and the driver spent
# per request, which tell where a request's time goes.
# PostgreSQL gets a fresh database that is dropped afterwards; its own CPU
# is not counted here.
#
# The issue's goals for PostgreSQL were set on a machine where PostgreSQL
# alone answers 43,000 primary-key selects/s and 15,000 single-row
# inserts/s at concurrency 16 through pgx. The script measures those two
# figures on this machine too (BenchmarkReference* in vault/postgres,
# against the same PostgreSQL), before the API, and prints the API's
# figures at c16 as fractions of them next to the goals' fractions.
#
#   scripts/bench-api.sh            # 10s per measurement
#   DURATION=5s scripts/bench-api.sh
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${DURATION:-10s}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
work="$(mktemp -d)"
db="coffre_bench_$$"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql -qc "drop database if exists $db" postgres >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/coffre" ./cmd/coffre
coffre="$work/coffre"

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# $(go version), PostgreSQL $(psql -qtAc 'show server_version' postgres)"

run_store() { # name port [database-url]
	local name=$1 port=$2 url=${3:-}
	local dir="$work/$name"
	local -a dbflag=()
	[ -n "$url" ] && dbflag=(--database-url "$url")
	"$coffre" init --data-dir "$dir" --tenant bench "${dbflag[@]}" >/dev/null 2>&1
	local token
	token=$("$coffre" token create --data-dir "$dir" "${dbflag[@]}" --tenant bench --role agent --purpose casework 2>/dev/null)
	"$coffre" serve --data-dir "$dir" "${dbflag[@]}" --addr "127.0.0.1:$port" >/dev/null 2>"$work/$name.log" &
	pids+=($!)
	for _ in $(seq 1 100); do
		curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	for c in 1 16; do
		for op in create get search; do
			printf '%s\tc=%s\t' "$name" "$c"
			"$coffre" bench --url "http://127.0.0.1:$port" --token "$token" --concurrency "$c" \
				--duration "$duration" --warmup 2s --ops "$op" --preload 2000 --json 2>/dev/null |
				tee "$work/$name.c$c.$op.json" |
				python3 -c 'import json,sys; r=json.load(sys.stdin); o=r["ops"][0]; cpu=lambda k: "%.0f" % r[k] if k in r else "?"; print("%s\t%.0f ops/s\tp50 %.2f ms\tp99 %.2f ms\tmax %.1f ms\terrors %d\tCPU/op server %s µs, driver %s µs" % (o["op"], o["ops_per_s"], o["p50_ms"], o["p99_ms"], o["max_ms"], o["requests"]-o["ok"], cpu("server_cpu_us_per_request"), cpu("driver_cpu_us_per_request")))'
		done
	done
	kill "${pids[-1]}" 2>/dev/null || true
	wait "${pids[-1]}" 2>/dev/null || true
}

psql -qc "create database $db" postgres >/dev/null
url="postgres://$PGUSER@$PGHOST:$PGPORT/$db?sslmode=disable"

# The yardstick, in its own schemas of the bench database.
TEST_DATABASE_URL="$url" go test -run '^$' -bench '^BenchmarkReference(Select|Insert)$' -benchtime 5s \
	./vault/postgres/ >"$work/reference.txt" 2>&1 || { cat "$work/reference.txt" >&2; exit 1; }
ref() { awk -v b="$1" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 1; i < NF; i++) if ($(i+1) == "ops/s") print $i }' "$work/reference.txt"; }
ref_select=$(ref BenchmarkReferenceSelect)
ref_insert=$(ref BenchmarkReferenceInsert)
printf 'reference (PostgreSQL alone, pgx, c=16)\tselect %.0f ops/s\tinsert %.0f ops/s\n' "$ref_select" "$ref_insert"

run_store sqlite 18081
run_store postgres 18082 "$url"

# The API at c16 as a fraction of the yardstick, against the goals'
# fractions of the issue's machine (8,000 and 6,850 of 43,000 selects,
# 4,000 of 15,000 inserts).
python3 - "$work" "$ref_select" "$ref_insert" <<'PY'
import json, sys
work, sel, ins = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rate = lambda op: json.load(open("%s/postgres.c16.%s.json" % (work, op)))["ops"][0]["ops_per_s"]
for label, op, goal, base, name in [
        ("get", "get", 8000, sel, "select"), ("audited get", "get", 6850, sel, "select"),
        ("create", "create", 4000, ins, "insert")]:
    got, ref = rate(op), {"select": 43000, "insert": 15000}[name]
    print("postgres c=16 %-12s %.0f ops/s = %.3f of %s; goal %d/%d = %.3f, here %.0f ops/s: %s" % (
        label, got, got / base, name, goal, ref, goal / ref, goal / ref * base,
        "met" if got / base >= goal / ref else "not met"))
PY
