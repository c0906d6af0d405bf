#!/usr/bin/env bash
# Seed and benchmark Concord at three sizes of the national federation: 1 %, 10 % and
# 100 % (2,000 agencies, 50,000 people, 10,000 task forces, 500,000 role assignments,
# 1,000,000 objectives, tasks and updates), each in its own PostgreSQL database
# (concord_scale_1, _10, _100). Writes benchmarks/results/seed-<size>.txt,
# scale-<size>.txt (benchmark_scale) and load-<size>.txt (benchmark_load). Not part of CI.
#
#   benchmarks/run_scale.sh              # all three sizes, benchmark_scale
#   benchmarks/run_scale.sh 1 10         # some of them
#   SCALE_RESEED=0 benchmarks/run_scale.sh   # benchmark the databases already seeded
#   SCALE_RESEED=0 BENCHMARKS=load benchmarks/run_scale.sh 100   # the load benchmark only
#   BENCHMARKS="scale load" benchmarks/run_scale.sh 100          # both, one after the other
#
# Needs: PostgreSQL (SCALE_PG, default postgres://postgres@127.0.0.1:5432), wrk
# (Debian: apt-get install wrk) for the throughput section and benchmark_load, and
# REDIS_URL for the notification fan-out (run at the largest size only; skipped without
# it). benchmark_load also queues its writes' notifications in REDIS_URL when it is set:
# give it a Redis database of its own (e.g. redis://127.0.0.1:6379/11).
# Extra benchmark_scale options go in BENCH_ARGS, e.g. BENCH_ARGS="--requests 50";
# extra benchmark_load options in LOAD_ARGS, e.g. LOAD_ARGS="--seconds 5 --skip mixed".
# Run one benchmark at a time, on a machine doing nothing else heavy.
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${SCALE_PG:-postgres://postgres@127.0.0.1:5432}
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(1 10 100)
PYTHON=${PYTHON:-.venv/bin/python}
RESULTS=benchmarks/results
mkdir -p "$RESULTS"
largest=$(printf '%s\n' "${SIZES[@]}" | sort -n | tail -1)

for size in "${SIZES[@]}"; do
    case $size in
        1) factor=0.01 ;;
        10) factor=0.1 ;;
        100) factor=1 ;;
        *) echo "sizes are 1, 10 and 100 (percent), not $size" >&2; exit 2 ;;
    esac
    db=concord_scale_$size
    export DATABASE_URL=$PG/$db
    if [ "${SCALE_RESEED:-1}" = 1 ]; then
        echo "== $size %: a fresh database $db, migrated and seeded (factor $factor)"
        psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
        DJANGO_SETTINGS_MODULE=coordination.settings.benchmark "$PYTHON" manage.py migrate -v0
        DJANGO_SETTINGS_MODULE=coordination.settings.benchmark \
            "$PYTHON" manage.py seed_scale --factor "$factor" --no-progress \
            | tee "$RESULTS/seed-$size.txt"
    fi
    if [[ " ${BENCHMARKS:-scale} " == *" scale "* ]]; then
        fanout=(--skip fanout)
        [ "$size" = "$largest" ] && [ -n "${REDIS_URL:-}" ] && fanout=()
        echo "== $size %: benchmark_scale"
        # shellcheck disable=SC2086  # BENCH_ARGS is split on purpose
        DJANGO_SETTINGS_MODULE=coordination.settings.benchmark \
            "$PYTHON" manage.py benchmark_scale "${fanout[@]}" ${BENCH_ARGS:-} \
            2> >(grep -v -e "^AXES" -e "No directory at" -e "Forbidden: /api" -e "mw_instance" >&2) \
            | tee "$RESULTS/scale-$size.txt"
    fi
    if [[ " ${BENCHMARKS:-scale} " == *" load "* ]]; then
        echo "== $size %: benchmark_load"
        # the benchmark app's own table, on a database seeded before it existed
        DJANGO_SETTINGS_MODULE=coordination.settings.benchmark "$PYTHON" manage.py migrate benchmarks -v0
        # shellcheck disable=SC2086  # LOAD_ARGS is split on purpose
        DJANGO_SETTINGS_MODULE=coordination.settings.benchmark \
            "$PYTHON" manage.py benchmark_load ${LOAD_ARGS:-} \
            | tee "$RESULTS/load-$size.txt"
    fi
done
