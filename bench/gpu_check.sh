#!/usr/bin/env bash
# The whole GPU verification of the CUDA device in one run (issue 6), sized for a short lease:
# tests/cuda, the main job on the GPU and on the CPU with the same seed (accuracy must agree
# within 0.3 points), then the benchmarks. Every step has its own time limit and log; a failing
# step does not stop the later ones. A summary table goes to stdout and $OUT/summary.md.
#
# Prepare here (once; Fashion-MNIST is not on the GPU machine, bench/out/ is git-ignored):
#   mkdir -p bench/out/data/fashion-mnist
#   cp /usr/share/datasets/fashion-mnist/*.gz bench/out/data/fashion-mnist/
# Run on the GPU machine from the repository root (the device tool: carry ["bench/out/data"]):
#   bash bench/gpu_check.sh tests       # tests/cuda + the main job on GPU and CPU (<= 450 s)
#   bash bench/gpu_check.sh bench       # bench/matmul.py, mnist_mlp.py, overhead.py (<= 510 s)
# (two parts, because the device tool allows 600 s per command).
set -u
cd "$(dirname "$0")/.." || exit 1  # the repository root
OUT=${OUT:-bench/out/gpu}
mkdir -p "$OUT"
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
export TINYGRAD_LITE_DATA=${TINYGRAD_LITE_DATA:-bench/out/data}
PY=${PYTHON:-python3}
PART=${1:-tests}
case "$PART" in tests | bench) ;; *) echo "usage: $0 tests|bench" >&2; exit 2 ;; esac

echo "| step | exit | seconds |" | tee -a "$OUT/summary.md"
echo "|---|---:|---:|" | tee -a "$OUT/summary.md"

# step NAME LIMIT_S COMMAND...: run with a time limit, log to $OUT/NAME.log, one summary row.
step() {
    local name=$1 limit=$2
    shift 2
    local start rc
    start=$(date +%s)
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    echo "| $name | $rc | $(($(date +%s) - start)) |" | tee -a "$OUT/summary.md"
    if [ "$rc" -ne 0 ]; then tail -n 25 "$OUT/$name.log"; fi
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    "$PY" -c "import cupy, torch, numpy, numba, sys; print('python', sys.version.split()[0], \
'cupy', cupy.__version__, 'cuda runtime', cupy.cuda.runtime.runtimeGetVersion(), \
'torch', torch.__version__, 'numpy', numpy.__version__, 'numba', numba.__version__)"
} >"$OUT/versions.txt" 2>&1
cat "$OUT/versions.txt"

if [ "$PART" = tests ]; then
    step cuda_tests 240 env TINYGRAD_LITE_REQUIRE_GPU=1 "$PY" -m pytest tests/cuda -q --maxfail=25 -p no:cacheprovider --durations=10
    step mnist_cuda 120 "$PY" examples/mnist_mlp.py --dataset fashion-mnist --device cuda \
        --no-progress --seed 0
    step mnist_cpu 90 "$PY" examples/mnist_mlp.py --dataset fashion-mnist --device cpu \
        --no-progress --seed 0
    grep -h "test accuracy" "$OUT/mnist_cuda.log" "$OUT/mnist_cpu.log" | tail -n 4
else
    step matmul 180 "$PY" bench/matmul.py
    step mnist_bench 240 "$PY" bench/mnist_mlp.py --device cuda --rounds 2 --epochs 3
    step overhead 90 "$PY" bench/overhead.py --device cuda
    for f in matmul mnist_bench overhead; do
        echo "== $f"
        grep -E "^\||median|ratio" "$OUT/$f.log" | head -n 40
    done
fi
