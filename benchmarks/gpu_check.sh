#!/usr/bin/env bash
# Training and scoring throughput on a GPU machine, one JSON line per run, each with its
# GFLOP/s and fraction of the matmul peak in that precision.
#
# 1. For each network: the real HDF5 input pipeline in every precision (float32,
#    mixed_float16, mixed_bfloat16), each with the on-device Lab intensity augmentation
#    off and on, then in-memory data under --precision auto (the model step alone, in
#    what training would pick).
# 2. The attention network through the HDF5 pipeline in every precision with each of
#    SWITCHES: the code before the fused difference (--old-path fused_difference) and before
#    the folded upsampling and the blocked stem (--old-path folded_upsampling,
#    --old-path space_to_depth_stem), Keras's whole-step XLA off and on
#    (auto is on for a GPU), 4 steps per execution. (half_batch_norm_training is CPU only.)
# 3. Scoring (benchmarks/evaluation_throughput.py) in every precision: one model with full
#    TTA on arrays and through a challenge folder, with the faster paths and without them
#    (the comparison in step 4 times scoring with f1 on blocks, --old-path plain_stem_scoring).
# 4. benchmarks/speed_comparison.py over every precision (before and now side by side,
#    alternating), unless COMPARISON=0.
# Each run's JSON line goes to stdout and to ${OUT:-.}/train_throughput.jsonl (training)
# or ${OUT:-.}/scoring_throughput.jsonl (scoring; the comparison's lines go to
# ${OUT:-.}/speed_comparison.txt); everything each run printed goes to
# ${OUT:-.}/train_throughput.log. A failed run gives a JSON line with "error" and the
# others still run; the exit status is 1 if any run failed.
#
# Settings (environment): NETWORKS ("simple bn attention tiled"), RUNS
# (data:precision:intensity triples, default: the grid above), IMAGE_SIZE (288),
# BATCH_SIZE (16), STEPS (32), WARMUP (8; both multiples of 4 for the 4 steps per
# execution), SWITCH_PRECISIONS ("float32 mixed_float16 mixed_bfloat16"; empty: skip steps 2
# and 3), SWITCHES,
# SCORING_PAIRS (16), COMPARISON (1), PYTHON (.venv/bin/python when there, else python3).
# On a CPU, for example: NETWORKS=attention RUNS="hdf5:float32:off hdf5:mixed_bfloat16:off"
# SWITCH_PRECISIONS="float32 mixed_bfloat16" STEPS=8 WARMUP=4 SCORING_PAIRS=4 COMPARISON=0.
#
# Example: OUT=results bash benchmarks/gpu_check.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${OUT:-.}"
NETWORKS="${NETWORKS:-simple bn attention tiled}"
RUNS="${RUNS:-hdf5:float32:off hdf5:float32:on hdf5:mixed_float16:off hdf5:mixed_float16:on hdf5:mixed_bfloat16:off hdf5:mixed_bfloat16:on memory:auto:off}"
IMAGE_SIZE="${IMAGE_SIZE:-288}"
BATCH_SIZE="${BATCH_SIZE:-16}"
STEPS="${STEPS:-32}"
WARMUP="${WARMUP:-8}"
SWITCH_PRECISIONS="${SWITCH_PRECISIONS-float32 mixed_float16 mixed_bfloat16}"
SWITCHES="${SWITCHES:---old-path=fused_difference --old-path=folded_upsampling --old-path=space_to_depth_stem --jit-compile=off --jit-compile=on --steps-per-execution=4}"
SCORING_PAIRS="${SCORING_PAIRS:-16}"
COMPARISON="${COMPARISON:-1}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

mkdir -p "$OUT_DIR"
JSONL="$OUT_DIR/train_throughput.jsonl"
SCORING_JSONL="$OUT_DIR/scoring_throughput.jsonl"
LOG="$OUT_DIR/train_throughput.log"
: > "$JSONL"
: > "$SCORING_JSONL"
: > "$LOG"
"$PYTHON" -c 'import tensorflow as tf; print("tensorflow", tf.__version__, tf.config.list_physical_devices("GPU"))' \
    >> "$LOG" 2>&1 || true
command -v nvidia-smi > /dev/null && nvidia-smi >> "$LOG" 2>&1 || true

failures=0
# run_one JSONL_FILE DESCRIPTION SCRIPT ARGUMENTS...: one benchmark, its last line (JSON) kept
run_one() {
    local jsonl="$1" description="$2" script="$3"
    shift 3
    echo "=== $description $(date -u +%FT%TZ)" >> "$LOG"
    local output line status
    if output="$("$PYTHON" "$ROOT/benchmarks/$script" "$@" 2>&1)"; then
        line="$(printf '%s\n' "$output" | tail -n 1)"
    else
        status=$?
        failures=$((failures + 1))
        reason="$(printf '%s\n' "$output" | tail -n 1 | tr -d '"\\' | cut -c1-300)"
        line="{\"run\": \"$description\", \"error\": \"exit $status: $reason\"}"
    fi
    printf '%s\n' "$output" >> "$LOG"
    printf '%s\n' "$line" | tee -a "$jsonl"
}

common=(--image-size "$IMAGE_SIZE" --batch-size "$BATCH_SIZE" --steps "$STEPS" --warmup "$WARMUP")
for network in $NETWORKS; do
    for run in $RUNS; do
        IFS=: read -r data precision intensity <<< "$run"
        run_one "$JSONL" "$network data=$data precision=$precision intensity=$intensity" train_throughput.py \
            --network "$network" "${common[@]}" --data "$data" --precision "$precision" --intensity-augment "$intensity"
    done
done
for precision in $SWITCH_PRECISIONS; do
    for switch in $SWITCHES; do
        run_one "$JSONL" "attention data=hdf5 precision=$precision $switch" train_throughput.py \
            --network attention "${common[@]}" --data hdf5 --precision "$precision" "$switch"
    done
done
old_paths=(--old-path fused_difference --old-path half_batch_norm_inference --old-path folded_upsampling
           --old-path space_to_depth_stem --old-path plain_stem_scoring --old-path shared_lab_tta
           --old-path prefetch_tta)
for precision in $SWITCH_PRECISIONS; do
    scoring=(--image-size "$IMAGE_SIZE" --pairs "$SCORING_PAIRS" --precision "$precision"
             --cases 1_model_tta_full,folder_1_model_tta_full)
    run_one "$SCORING_JSONL" "scoring precision=$precision" evaluation_throughput.py "${scoring[@]}"
    run_one "$SCORING_JSONL" "scoring precision=$precision, code before the faster paths" evaluation_throughput.py \
        "${scoring[@]}" "${old_paths[@]}"
done
if [[ "$COMPARISON" == 1 ]]; then
    echo "=== speed comparison $(date -u +%FT%TZ)" >> "$LOG"
    precisions="$(echo "$SWITCH_PRECISIONS" | tr ' ' ',')"
    if ! "$PYTHON" "$ROOT/benchmarks/speed_comparison.py" --precisions "$precisions" --rounds 3 \
            --image-size "$IMAGE_SIZE" --batch-size "$BATCH_SIZE" --candidates \
            > "$OUT_DIR/speed_comparison.txt" 2>> "$LOG"; then
        failures=$((failures + 1))
        echo '{"run": "speed comparison", "error": "see the log"}' | tee -a "$JSONL"
    fi
    tail -n 40 "$OUT_DIR/speed_comparison.txt"
fi
[[ $failures -eq 0 ]] || { echo "$failures run(s) failed; see $LOG" >&2; exit 1; }
