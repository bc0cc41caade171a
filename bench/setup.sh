#!/usr/bin/env bash
# What the benchmarks compare against, from Debian's packages: pg_repack for the running
# PostgreSQL (bench/copy_bench.py and bench/e2e_bench.py print it beside bluegreen) and
# pgbench (in postgresql-contrib / the server package on Debian). Run as root.
set -euo pipefail
version="$(ls /etc/postgresql | sort -V | tail -1)"
apt-get install -y -q "postgresql-${version}-repack" >/dev/null
command -v pgbench >/dev/null || apt-get install -y -q "postgresql-contrib" >/dev/null
echo "pg_repack: $(pg_repack --version)"
echo "pgbench: $(pgbench --version)"
