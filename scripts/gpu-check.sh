#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: builds moeprobe with CUDA, runs every CUDA test
# (parity of the CUDA backend with the float64 reference), the paper's suite on the demo model with
# --device cuda against --device cpu (moeprobe compare), and the CUDA benchmarks with their
# ceilings (device copy, cuBLAS SGEMM, host->device copy), then writes a short Markdown summary:
# device, tests passed/failed/skipped, each benchmark with its ratios to the ceilings.
# Without a GPU (or without nvcc) every GPU part is skipped with the reason and the script still
# runs to the end. About 3-5 minutes on an H100/H200 with 16 cores (most of it the build).
#
#   bash scripts/gpu-check.sh [--out FILE] [--build DIR] [--jobs N]
#   defaults: --build build-gpu, --out BUILD/gpu-check.md, --jobs $(nproc)
# Exit: 0 when nothing failed (skips included), 1 when a test, the parity check or a benchmark
# failed, 2 on a build failure.
set -euo pipefail
cd "$(dirname "$0")/.."

out=""
build=build-gpu
jobs="$(nproc)"
source scripts/lib/options.sh
parse_options "$0" 2,15 out build jobs -- "$@"
[ -z "$out" ] && out="$build/gpu-check.md"
start=$(date +%s)
log="$build/gpu-check-logs"
mkdir -p "$log"
failed=0
summary=()
note() { summary+=("$1"); echo "gpu-check: $1"; }

# --- Device ---------------------------------------------------------------------------------
have_gpu=0
if ! command -v nvidia-smi >/dev/null 2>&1; then
  device="none (nvidia-smi not found)"
elif smi="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)"; then
  device="$(echo "$smi" | head -n1)"
  have_gpu=1
else
  device="none (nvidia-smi: $(echo "$smi" | head -n1))"
fi
nvcc="$(command -v nvcc || true)"
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
note "device: $device"

write_summary() {
  {
    echo "# moeprobe GPU check"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), revision $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
    for line in "${summary[@]}"; do echo "- $line"; done
    echo "- total wall time: $(( $(date +%s) - start )) s"
    if [ -f "$log/bench-table.md" ]; then echo; cat "$log/bench-table.md"; fi
  } > "$out"
  echo "gpu-check: summary written to $out"
}

if [ -z "$nvcc" ]; then
  note "build: skipped (no nvcc: the CUDA toolkit is not installed)"
  note "CUDA tests: skipped (no CUDA build)"
  note "benchmarks: skipped (no CUDA build)"
  write_summary
  exit 0
fi

# --- Build ----------------------------------------------------------------------------------
# Only the GPU's own architecture when one is present (half the nvcc time); sm_80 + sm_90 else.
arch=()
[ "$have_gpu" = 1 ] && arch=(-DCMAKE_CUDA_ARCHITECTURES=native)
launcher=()
command -v ccache >/dev/null 2>&1 &&
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
t0=$(date +%s)
if ! { cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOEPROBE_CUDA=ON \
         -DCMAKE_CUDA_COMPILER="$nvcc" -DMOEPROBE_BUILD_BENCH=ON -DMOEPROBE_TORCH_BASELINES=OFF \
         "${arch[@]}" "${launcher[@]}" &&
       cmake --build "$build" -j"$jobs" --target moeprobe moeprobe_tests bench_cuda_kernels; } \
     > "$log/build.log" 2>&1; then
  tail -n 30 "$log/build.log" >&2
  note "build: FAILED (see $log/build.log)"
  write_summary
  exit 2
fi
note "build: CUDA ON, $(( $(date +%s) - t0 )) s"

# --- CUDA tests -----------------------------------------------------------------------------
tests_out="$log/cuda-tests.txt"
"$build/bin/moeprobe_tests" --gtest_filter='*Cuda*:*cuda*:MakeBackend.*' > "$tests_out" 2>&1 || true
count() { grep -E "^\[  $1 *\] [0-9]+ test" "$tests_out" | head -n1 | grep -oE '[0-9]+' | head -n1 || true; }
passed="$(count PASSED)"; skipped="$(count SKIPPED)"; tfailed="$(count FAILED)"
passed="${passed:-0}"; skipped="${skipped:-0}"; tfailed="${tfailed:-0}"
reason="$(grep -m1 -oE 'CUDA backend unavailable: .*|built without the CUDA backend[^;]*' "$tests_out" | head -n1 || true)"
line="CUDA tests: $passed passed, $tfailed failed, $skipped skipped"
[ "$skipped" != 0 ] && [ -n "$reason" ] && line="$line ($reason)"
note "$line"
if [ "$tfailed" != 0 ] || ! grep -q "tests ran" "$tests_out"; then
  failed=1
  grep -E "^\[  FAILED  \]" "$tests_out" | head -n 20 >&2 || true
fi

# --- Suite parity: --device cuda against --device cpu on the demo model ----------------------
if [ "$have_gpu" = 1 ]; then
  demo="$build/gpu-check-demo"
  if "$build/bin/moeprobe" synth fixtures/recipes/demo.yaml --out "$demo/model" > "$log/synth.log" 2>&1 &&
     { "$build/bin/moeprobe" run suites/closer_look.yaml --model "$demo/model" --device cpu \
         --reference-model "$demo/model/reference" --out "$demo/cpu" > "$log/run-cpu.log" 2>&1 || true; } &&
     { "$build/bin/moeprobe" run suites/closer_look.yaml --model "$demo/model" --device cuda \
         --reference-model "$demo/model/reference" --out "$demo/cuda" > "$log/run-cuda.log" 2>&1 || true; } &&
     [ -f "$demo/cpu/results.json" ] && [ -f "$demo/cuda/results.json" ] &&
     "$build/bin/moeprobe" compare "$demo/cpu/results.json" "$demo/cuda/results.json" \
       --out "$log/parity.md" > "$log/compare.log" 2>&1; then
    note "suite parity (demo model, cuda vs cpu, moeprobe compare): no drift"
  else
    failed=1
    note "suite parity (demo model, cuda vs cpu): FAILED (see $log/)"
  fi
else
  note "suite parity: skipped (no GPU: $device)"
fi

# --- CUDA benchmarks with their ceilings ------------------------------------------------------
bench_json="$log/bench_cuda_kernels.json"
if "$build/bin/bench_cuda_kernels" --benchmark_repetitions=3 --benchmark_out="$bench_json" \
     --benchmark_out_format=json > "$log/bench.txt" 2>&1; then :; else failed=1; fi
if [ -f "$bench_json" ] && command -v python3 >/dev/null 2>&1; then
  python3 - "$bench_json" "$log/bench-table.md" "$log/bench-counts.txt" <<'PY' || failed=1
import json, statistics, sys
doc = json.load(open(sys.argv[1]))
ctx = doc.get("context", {})
runs, errors, order = {}, {}, []
for b in doc["benchmarks"]:
    name = b.get("run_name", b["name"])
    if name not in order: order.append(name)
    if b.get("error_occurred"): errors[name] = b.get("error_message", "error"); continue
    if b.get("run_type", "iteration") == "iteration": runs.setdefault(name, []).append(b)
def med(rs, key):
    v = [r[key] for r in rs if key in r]
    return statistics.median(v) if v else None
lines = ["## CUDA benchmarks (`bench_cuda_kernels`, medians of 3 repetitions)", ""]
if "ceiling_d2d_GBps" in ctx:
    lines.append("Ceilings measured in the same process on %s: device-to-device copy %.0f GB/s "
                 "(read + write), cuBLAS SGEMM %.1f TFLOP/s." % (ctx.get("gpu", "?"),
                 float(ctx["ceiling_d2d_GBps"]), float(ctx["ceiling_sgemm_TFLOPps"])))
    lines.append("")
lines += ["| benchmark | time | GB/s | TFLOP/s | x_copy | x_read | x_gemm |", "|---|---:|---:|---:|---:|---:|---:|"]
fmt = lambda v, f: "—" if v is None else f % v
bad = 0
for name in order:
    if name in errors:
        lines.append("| `%s` | skipped: %s | | | | | |" % (name, errors[name])); continue
    rs = runs.get(name, [])
    if not rs: continue
    unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[rs[0]["time_unit"]]
    bps, flops = med(rs, "bytes_per_second"), med(rs, "FLOP/s")
    lines.append("| `%s` | %.3f ms | %s | %s | %s | %s | %s |" % (name, med(rs, "real_time") * unit,
        fmt(bps and bps / 1e9, "%.1f"), fmt(flops and flops / 1e12, "%.2f"),
        fmt(med(rs, "x_copy"), "%.2f"), fmt(med(rs, "x_read"), "%.2f"), fmt(med(rs, "x_gemm"), "%.2f")))
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
timed = [n for n in order if n in runs and n not in errors]
reasons = sorted(set(errors.values()))
open(sys.argv[3], "w").write("benchmarks: %d timed, %d skipped%s" % (len(timed), len(errors),
    " (" + "; ".join(reasons) + ")" if reasons else ""))
print("\n".join(lines))
PY
  note "$(cat "$log/bench-counts.txt" 2>/dev/null || echo 'benchmarks: no summary')"
else
  note "benchmarks: no JSON or no python3 to summarise it (see $log/bench.txt)"
fi

write_summary
exit "$failed"
