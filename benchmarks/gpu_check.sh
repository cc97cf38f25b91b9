#!/usr/bin/env bash
# Training throughput of all four networks on a GPU machine, one JSON line per run.
#
# For each network: the real HDF5 input pipeline in every precision (float32,
# mixed_float16, mixed_bfloat16), each with the on-device Lab intensity augmentation
# off and on, then in-memory data under --precision auto (the model step alone, in what
# training would pick). Each run's JSON line goes to stdout and to
# ${OUT:-.}/train_throughput.jsonl; everything each run printed goes to
# ${OUT:-.}/train_throughput.log. A failed run gives a JSON line with "error" and the
# others still run; the exit status is 1 if any run failed.
#
# Settings (environment): NETWORKS ("simple bn attention tiled"), RUNS
# (data:precision:intensity triples, default: the grid above), IMAGE_SIZE (288),
# BATCH_SIZE (16), STEPS (30), WARMUP (5), PYTHON (.venv/bin/python when there,
# else python3).
#
# Example: OUT=results bash benchmarks/gpu_check.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${OUT:-.}"
NETWORKS="${NETWORKS:-simple bn attention tiled}"
RUNS="${RUNS:-hdf5:float32:off hdf5:float32:on hdf5:mixed_float16:off hdf5:mixed_float16:on hdf5:mixed_bfloat16:off hdf5:mixed_bfloat16:on memory:auto:off}"
IMAGE_SIZE="${IMAGE_SIZE:-288}"
BATCH_SIZE="${BATCH_SIZE:-16}"
STEPS="${STEPS:-30}"
WARMUP="${WARMUP:-5}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

mkdir -p "$OUT_DIR"
JSONL="$OUT_DIR/train_throughput.jsonl"
LOG="$OUT_DIR/train_throughput.log"
: > "$JSONL"
: > "$LOG"
"$PYTHON" -c 'import tensorflow as tf; print("tensorflow", tf.__version__, tf.config.list_physical_devices("GPU"))' \
    >> "$LOG" 2>&1 || true
command -v nvidia-smi > /dev/null && nvidia-smi >> "$LOG" 2>&1 || true

failures=0
for network in $NETWORKS; do
    for run in $RUNS; do
        IFS=: read -r data precision intensity <<< "$run"
        arguments=(--network "$network" --image-size "$IMAGE_SIZE" --batch-size "$BATCH_SIZE"
                   --steps "$STEPS" --warmup "$WARMUP" --data "$data" --precision "$precision"
                   --intensity-augment "$intensity")
        echo "=== $network data=$data precision=$precision intensity=$intensity $(date -u +%FT%TZ)" >> "$LOG"
        if output="$("$PYTHON" "$ROOT/benchmarks/train_throughput.py" "${arguments[@]}" 2>&1)"; then
            line="$(printf '%s\n' "$output" | tail -n 1)"
        else
            status=$?
            failures=$((failures + 1))
            reason="$(printf '%s\n' "$output" | tail -n 1 | tr -d '"\\' | cut -c1-300)"
            line="{\"network\": \"$network\", \"data\": \"$data\", \"precision\": \"$precision\", \"intensity_augment\": $([[ $intensity == on ]] && echo true || echo false), \"error\": \"exit $status: $reason\"}"
        fi
        printf '%s\n' "$output" >> "$LOG"
        printf '%s\n' "$line" | tee -a "$JSONL"
    done
done
[[ $failures -eq 0 ]] || { echo "$failures run(s) failed; see $LOG" >&2; exit 1; }
