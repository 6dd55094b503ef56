#!/usr/bin/env bash
# The physical limit: PostgreSQL's TPC-B-like rate on this machine, in a scratch database.
# Usage: bench/pgbench_baseline.sh [duration_16_clients=30] [duration_1_4=15]
# Env: PGHOST (127.0.0.1), PGUSER (postgres), PGPORT (5432), BENCH_PGBENCH_DB (rdf_bench_pgbench)
set -euo pipefail
export PGHOST="${PGHOST:-127.0.0.1}" PGUSER="${PGUSER:-postgres}" PGPORT="${PGPORT:-5432}"
export PGOPTIONS="-c client_min_messages=warning"
DB="${BENCH_PGBENCH_DB:-rdf_bench_pgbench}"
T16="${1:-30}"; T14="${2:-15}"

echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine:  nproc=$(nproc) arch=$(uname -m) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\""
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
echo "database: $(psql -d postgres -Atc 'show server_version') fsync=$(psql -d postgres -Atc 'show fsync') synchronous_commit=$(psql -d postgres -Atc 'show synchronous_commit') shared_buffers=$(psql -d postgres -Atc 'show shared_buffers')"

psql -d postgres -qc "DROP DATABASE IF EXISTS $DB" >/dev/null
psql -d postgres -qc "CREATE DATABASE $DB" >/dev/null
trap 'psql -d postgres -qc "DROP DATABASE IF EXISTS '"$DB"'" >/dev/null 2>&1 || true' EXIT
pgbench -i -s 10 -q "$DB" 2>&1 | tail -1

run() {  # clients duration
  local out tps lat
  out=$(pgbench -n -c "$1" -j 2 -T "$2" "$DB" 2>&1)
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out")
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")
  printf 'pgbench TPC-B-like  clients=%-3s T=%ss  tps=%s  latency_avg_ms=%s\n' "$1" "$2" "$tps" "$lat"
}
run 1 "$T14"
run 4 "$T14"
run 16 "$T16"
