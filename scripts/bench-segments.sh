#!/usr/bin/env bash
# Measures segment queries through the HTTP API on `coffre demo` data, on
# both stores, against a plaintext table of the same data, in one run.
#
# For each store: `coffre init`, `coffre demo --seed 1` (PG_CONTACTS on
# PostgreSQL, SQLITE_CONTACTS on SQLite), then on PostgreSQL VACUUM
# ANALYZE; an agent token (purpose casework) and a volunteer token
# (purpose newsletter, districts d3, d7 and d11); `coffre serve`; then
# POST /v1/segments/query with curl, one request at a time over loopback,
# for each role and filter, a count and a first page of 50: one warm-up
# request, then the best and the median of RUNS. With the server stopped,
# TestSegmentDemoBaseline writes the same synthetic contacts in plain text
# into a benchmark-only table of the same database, times the same filters
# in SQL (the role's policy conditions as plain predicates) and drops the
# table. PostgreSQL gets a fresh database that is dropped afterwards; the
# SQLite file lives in a temporary folder that is removed.
#
#   scripts/bench-segments.sh                          # 1,000,000 and 100,000 contacts, 7 runs
#   PG_CONTACTS=100000 SQLITE_CONTACTS=20000 RUNS=5 scripts/bench-segments.sh
#   STORES=postgres scripts/bench-segments.sh
set -euo pipefail
cd "$(dirname "$0")/.."

pg_contacts="${PG_CONTACTS:-1000000}"
sqlite_contacts="${SQLITE_CONTACTS:-100000}"
runs="${RUNS:-7}"
stores="${STORES:-postgres sqlite}"
seed=1
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
work="$(mktemp -d)"
db="coffre_segbench_$$"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql -qc "drop database if exists $db" postgres >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/coffre" ./cmd/coffre
go test -c -o "$work/postgres.test" ./vault/postgres
go test -c -o "$work/sqlite.test" ./vault/sqlite
coffre="$work/coffre"

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# $(go version), PostgreSQL $(psql -qtAc 'show server_version' postgres), shared_buffers $(psql -qtAc 'show shared_buffers' postgres)"

# The filters, as storetest.DemoQueries describes them. The volunteer's
# policy adds their districts, the newsletter consent, not restricted and
# not objected; the agent's, not restricted and not objected.
since="$(date -u -d '1 year ago' +%Y-%m-%dT%H:%M:%SZ)"
two='{"field": "district", "in": ["d3", "d7"]}, {"consent": "newsletter"}'
declare -A filters=(
	[two]="{\"and\": [$two]}"
	[five]="{\"and\": [$two, {\"field\": \"interests\", \"in\": [\"cycling\", \"ecology\", \"transport\"]}, {\"consent\": \"events\"}, {\"created\": {\"after\": \"$since\"}}]}"
	[five-age]="{\"and\": [$two, {\"field\": \"interests\", \"in\": [\"cycling\", \"ecology\", \"transport\"]}, {\"field\": \"birth_date\", \"age\": {\"min\": 45, \"max\": 64}}, {\"created\": {\"after\": \"$since\"}}]}"
)
queries=("agent two" "agent five" "agent five-age" "volunteer two" "volunteer five")
declare -A purpose=([agent]=casework [volunteer]=newsletter)
echo "# two: district d3 or d7, newsletter consent; five: two, interests cycling, ecology or transport, events consent,"
echo "# created after $since; five-age: two, the interests, aged 45 to 64, created after $since"
echo "# agent: purpose casework; volunteer: purpose newsletter, districts d3, d7, d11; $runs runs after one warm-up"

# api port token purpose filter answer: one warm-up request, then RUNS
# timed ones; prints matches (count, or contacts on the page), best and
# median in ms.
api() {
	local port=$1 token=$2 purp=$3 filter=$4 answer=$5 body times=() i code t
	body="{\"answer\": \"$answer\", \"filter\": $filter}"
	for i in $(seq 0 "$runs"); do
		read -r code t < <(curl -sS -o "$work/answer.json" -w '%{http_code} %{time_total}\n' \
			-H "Authorization: Bearer $token" -H "Coffre-Purpose: $purp" -H 'Content-Type: application/json' \
			--data-binary "$body" "http://127.0.0.1:$port/v1/segments/query")
		if [ "$code" != 200 ]; then
			echo "segment query answered $code: $(cat "$work/answer.json")" >&2
			return 1
		fi
		if [ "$i" -gt 0 ]; then times+=("$t"); fi
	done
	printf '%s\n' "${times[@]}" | sort -g | awk -v m="$(jq 'if .count != null then .count else (.contacts | length) end' "$work/answer.json")" \
		'{ t[NR] = $1 * 1000 } END { printf "%s\t%.2f\t%.2f\n", m, t[1], t[int(NR / 2) + 1] }'
}

run_store() { # name port contacts [database-url]
	local name=$1 port=$2 n=$3 url=${4:-}
	local dir="$work/$name"
	local -a dbflag=()
	[ -n "$url" ] && dbflag=(--database-url "$url")
	echo
	echo "## $name, $n contacts"
	"$coffre" init --data-dir "$dir" --tenant demo "${dbflag[@]}" >/dev/null 2>"$work/$name.init.log" ||
		{ cat "$work/$name.init.log" >&2; return 1; }
	"$coffre" demo --data-dir "$dir" "${dbflag[@]}" --contacts "$n" --seed "$seed" 2>"$work/$name.demo.log" | sed 's/^/# /' ||
		{ tail -5 "$work/$name.demo.log" >&2; return 1; }
	if [ -n "$url" ]; then
		local began=$SECONDS
		psql -qc 'vacuum analyze' "$url"
		echo "# VACUUM ANALYZE of the database after the load: $((SECONDS - began)) s"
	fi
	local agent volunteer
	agent=$("$coffre" token create --data-dir "$dir" "${dbflag[@]}" --tenant demo --role agent --purpose casework 2>/dev/null)
	volunteer=$("$coffre" token create --data-dir "$dir" "${dbflag[@]}" --tenant demo --role volunteer \
		--attr districts=d3 --attr districts=d7 --attr districts=d11 --purpose newsletter 2>/dev/null)
	declare -A tokens=([agent]=$agent [volunteer]=$volunteer)
	"$coffre" serve --data-dir "$dir" "${dbflag[@]}" --addr "127.0.0.1:$port" >/dev/null 2>"$work/$name.log" &
	pids+=($!)
	for _ in $(seq 1 100); do
		curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	local q role filter answer line
	: >"$work/$name.api"
	for q in "${queries[@]}"; do
		read -r role filter <<<"$q"
		for answer in count list; do
			line=$(api "$port" "${tokens[$role]}" "${purpose[$role]}" "${filters[$filter]}" "$answer")
			printf '%s\t%s\t%s\t%s\n' "$role" "$filter" "$answer" "$line" >>"$work/$name.api"
		done
	done
	kill "${pids[-1]}" 2>/dev/null || true
	wait "${pids[-1]}" 2>/dev/null || true

	local target=$url
	[ -z "$url" ] && target="$dir/coffre.db"
	"$work/$name.test" -test.run '^TestSegmentDemoBaseline$' -test.v -test.timeout 30m \
		-seg.demo-db "$target" -seg.demo-n "$n" -seg.demo-seed "$seed" -seg.demo-runs "$runs" -seg.demo-since "$since" \
		>"$work/$name.baseline" 2>&1 || { cat "$work/$name.baseline" >&2; return 1; }
	grep -o 'baseline: .*rows.*' "$work/$name.baseline" | sed 's/^/# /'
	grep -o $'baseline\t.*' "$work/$name.baseline" | cut -f2- >"$work/$name.plain"

	echo "# ms, one request at a time; API: curl's time_total, connection included; plaintext: the SQL query from Go"
	printf '%-9s %-8s %-5s %8s %8s | %15s | %15s | %9s\n' role filter answer matches plain API:best/med plain:best/med "ratio med"
	paste "$work/$name.api" "$work/$name.plain" | while IFS=$'\t' read -r role filter answer m best med _ _ _ pm pbest pmed; do
		[ "$m" = "$pm" ] || echo "# $role $filter $answer: $m matches through the API, $pm in the plaintext table" >&2
		printf '%-9s %-8s %-5s %8s %8s | %6.2f / %6.2f | %6.2f / %6.2f | %8.1fx\n' "$role" "$filter" "$answer" "$m" "$pm" \
			"$best" "$med" "$pbest" "$pmed" "$(awk -v a="$med" -v b="$pmed" 'BEGIN { print (b > 0 ? a / b : 0) }')"
	done
}

for store in $stores; do
	case $store in
	postgres)
		psql -qc "create database $db" postgres >/dev/null
		run_store postgres 18083 "$pg_contacts" "postgres://$PGUSER@$PGHOST:$PGPORT/$db?sslmode=disable"
		psql -qc "drop database $db" postgres >/dev/null
		;;
	sqlite) run_store sqlite 18084 "$sqlite_contacts" ;;
	*) echo "unknown store $store (postgres or sqlite)" >&2; exit 2 ;;
	esac
done
