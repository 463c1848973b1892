#!/usr/bin/env bash
# Regenerates reports/examples/ (results.json and its tables.safetensors, junit.xml, summary.md,
# report.html): the README's demo model judged by the paper's suite. Deterministic for a given
# moeprobe build: the recipe and the suite fix their seeds, the float64 reference backend is used
# (the same numbers and device name on every machine), and every path is given relative to the
# repository root, so no machine path lands in the committed files. Only environment.git_revision follows the build.
# Usage: scripts/make-report-examples.sh [--check] [MOEPROBE_BINARY]   (default: build/bin/moeprobe)
#   --check: regenerate nothing; re-render every file from the committed results.json and
#   tables.safetensors and fail when one differs from the committed one (a ctest runs this).
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
moeprobe=${1:-build/bin/moeprobe}
[ -x "$moeprobe" ] || { echo "make-report-examples: no $moeprobe; build first (cmake --build --preset default)" >&2; exit 2; }
examples=reports/examples

if [ "$check" = 1 ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$moeprobe" report "$examples/results.json" --out "$tmp" --format json,junit,md,html >/dev/null
  for f in results.json tables.safetensors junit.xml summary.md report.html; do
    cmp -s "$tmp/$f" "$examples/$f" || {
      echo "make-report-examples: $examples/$f is not what moeprobe renders from $examples/results.json" \
           "today; run scripts/make-report-examples.sh and commit the result" >&2
      diff -u "$examples/$f" "$tmp/$f" | head -40 >&2 || true
      exit 1
    }
  done
  echo "$examples/ is consistent with this build's renderers"
  exit 0
fi

work=out/report-examples
rm -rf "$work"
"$moeprobe" synth fixtures/recipes/demo.yaml --out "$work/demo-model" --threads 2 >/dev/null
status=0
"$moeprobe" run suites/closer_look.yaml --model "$work/demo-model" \
  --reference-model "$work/demo-model/reference" --device reference --activations synthetic \
  --out "$work/report" \
  >/dev/null || status=$?
# 0: everything passed or warned; 1: a hypothesis failed, still a valid sample. 2 or 3: no report.
[ "$status" -le 1 ] || { echo "make-report-examples: moeprobe run exited $status" >&2; exit "$status"; }

if grep -rlF -e "$PWD" -e "${HOME:-/nonexistent}/" "$work/report"; then
  echo "make-report-examples: a machine path is in the files above" >&2
  exit 1
fi
mkdir -p "$examples"
for f in results.json tables.safetensors junit.xml summary.md report.html; do
  cp "$work/report/$f" "$examples/$f"
done
rm -rf "$work"
echo "reports/examples/ regenerated (moeprobe run exit $status)"
