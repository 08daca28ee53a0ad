#!/usr/bin/env bash
# The GPU-relevant benchmarks in one command, each under its own time limit, JSON to benchmarks/results/
# (the file names end in _gpu.json on a GPU).  Run from the repository root:
#
#   bash benchmarks/run_gpu.sh            # on a machine with an NVIDIA GPU and jax[cuda]
#   bash benchmarks/run_gpu.sh --smoke    # small sizes (any machine; a quick check that all of them run)
#
# OUT=<folder> also copies the JSON files there.  gpu_suite.py runs the spectral solver, the 201 x 201
# non-local map, the G0 map, the proximity solve, the spin solver, the inelastic curve and a map fit,
# each in float64 and float32, and reports the float32 error against float64 (results/gpu_suite_*.json).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
smoke=0
[[ "${1:-}" == "--smoke" ]] && smoke=1
python3 -c "import jax; print('devices:', jax.devices())"
status=0
run() {  # run LIMIT_S SCRIPT ARGS...
    local limit=$1; shift
    echo "== $* (limit ${limit} s)"
    local t0=$SECONDS
    timeout "$limit" python3 "benchmarks/$@" || { echo "!! $1 failed or timed out"; status=1; }
    echo "== $1: $((SECONDS - t0)) s"
}
if (( smoke )); then
    run 900 gpu_suite.py --smoke --limit 300
else
    # seven workloads in float64 and float32 (at most 30 s each), then the NIS fit against scipy:
    # under 8 minutes in all
    run 440 gpu_suite.py --limit 30
    run 40 bench_fit_nis.py --quick
fi
if [[ -n "${OUT:-}" ]]; then
    cp benchmarks/results/*_gpu.json "$OUT"/ 2>/dev/null || true
fi
exit $status
