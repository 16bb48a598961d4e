#!/usr/bin/env bash
# Measures Coffre's HTTP API on both stores, side by side in one run:
# create, get-by-id and lookup-by-email at concurrency 1 and 16, each op on
# its own for DURATION, with `coffre bench` (loopback only), which also
# reports the CPU time the server (from its /metrics) and the driver spent
# per request, which tell where a request's time goes.
# PostgreSQL gets a fresh database that is dropped afterwards; its own CPU
# is not counted here.
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
				python3 -c 'import json,sys; r=json.load(sys.stdin); o=r["ops"][0]; cpu=lambda k: "%.0f" % r[k] if k in r else "?"; print("%s\t%.0f ops/s\tp50 %.2f ms\tp99 %.2f ms\tmax %.1f ms\terrors %d\tCPU/op server %s µs, driver %s µs" % (o["op"], o["ops_per_s"], o["p50_ms"], o["p99_ms"], o["max_ms"], o["requests"]-o["ok"], cpu("server_cpu_us_per_request"), cpu("driver_cpu_us_per_request")))'
		done
	done
	kill "${pids[-1]}" 2>/dev/null || true
	wait "${pids[-1]}" 2>/dev/null || true
}

psql -qc "create database $db" postgres >/dev/null
run_store sqlite 18081
run_store postgres 18082 "postgres://$PGUSER@$PGHOST:$PGPORT/$db?sslmode=disable"
