#!/usr/bin/env bash
# The GPU-relevant benchmarks in one command, each under its own time limit, JSON to benchmarks/results/
# (the file names end in _gpu.json on a GPU).  Run from the repository root:
#
#   bash benchmarks/run_gpu.sh            # on a machine with an NVIDIA GPU and jax[cuda]
#   bash benchmarks/run_gpu.sh --smoke    # small sizes (any machine; a quick check that all of them run)
#
# OUT=<folder> also copies the JSON files there.  Every benchmark also times the plain scipy/numpy
# way of doing the same job in the same run, where one exists.
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
    run 300 bench_fit_nis.py --quick
    run 300 bench_spectral.py --max-exp 4 --n-scipy 2000
else
    run 150 bench_fit_nis.py
    run 150 bench_spectral.py
    run 150 bench_fit_map.py
    run 120 bench_thermospin_map.py
fi
if [[ -n "${OUT:-}" ]]; then
    cp benchmarks/results/*_gpu.json "$OUT"/ 2>/dev/null || true
fi
exit $status
