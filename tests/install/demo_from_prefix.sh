#!/usr/bin/env bash
# Installs moeprobe into a temporary prefix, moves the prefix (so neither the source tree, the build
# tree nor the install prefix can be what the binary relies on), clears the data overrides, and runs
# the demo (synth + run) from the installed copy in an unrelated working directory. Then checks that
# the overrides still win and that a binary with no data beside it fails clearly (exit 2).
# Usage: demo_from_prefix.sh CMAKE BUILD_DIR SOURCE_DIR
set -euo pipefail
cmake_bin=$1 build_dir=$2 source_dir=$3

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$cmake_bin" --install "$build_dir" --prefix "$tmp/staged" >/dev/null
mv "$tmp/staged" "$tmp/prefix"
prefix=$tmp/prefix
unset MOEPROBE_DATA_DIR MOEPROBE_FAMILIES
mkdir "$tmp/work"
cd "$tmp/work"

for f in bin/moeprobe share/moeprobe/families/mixtral.yaml share/moeprobe/suites/closer_look.yaml \
         share/moeprobe/recipes/demo.yaml share/moeprobe/corpus/wikitext103_test.csv \
         include/moeprobe/moeprobe.h include/moeprobe/model/family.h \
         include/moeprobe/kernels/backend.h include/moeprobe/reports/write_reports.h; do
  [ -e "$prefix/$f" ] || fail "$f is not installed"
done
[ ! -e "$prefix/include/moeprobe/cli" ] || fail "the command line's headers are installed"
# The library once compiled the source tree's families directory in; nothing of it may remain.
if grep -qF "$source_dir/configs" "$prefix/bin/moeprobe"; then
  fail "bin/moeprobe contains the source tree's path $source_dir/configs"
fi

moeprobe=$prefix/bin/moeprobe
"$moeprobe" synth "$prefix/share/moeprobe/recipes/demo.yaml" --out model >/dev/null
"$moeprobe" run "$prefix/share/moeprobe/suites/closer_look.yaml" --model model \
  --reference-model model/reference --out report >/dev/null
for f in results.json junit.xml summary.md report.html; do
  [ -s "report/$f" ] || fail "the installed demo wrote no report/$f"
done
grep -q '"family": "mixtral"' report/results.json || fail "results.json names no mixtral family"
# The dynamic findings ran from text (the suite's probes), never on the synthetic Gaussian probe.
if grep -q 'synthetic gaussian' report/results.json; then
  fail "the installed demo ran the dynamic findings on the synthetic probe"
fi

# MOEPROBE_FAMILIES and --families still override the bundled families.
mkdir empty_families
status=0
MOEPROBE_FAMILIES=$PWD/empty_families "$moeprobe" inspect model >/dev/null 2>err.txt || status=$?
[ "$status" = 2 ] || fail "MOEPROBE_FAMILIES=<empty dir>: exit $status, expected 2"
grep -q empty_families err.txt || fail "MOEPROBE_FAMILIES=<empty dir>: error does not name it"
status=0
"$moeprobe" inspect model --families empty_families >/dev/null 2>err.txt || status=$?
[ "$status" = 2 ] || fail "--families <empty dir>: exit $status, expected 2"
"$moeprobe" inspect model --families "$prefix/share/moeprobe/families" >/dev/null
# MOEPROBE_DATA_DIR moves the whole data root.
cp -r "$prefix/share/moeprobe" data_copy
rm data_copy/families/mixtral.yaml
status=0
MOEPROBE_DATA_DIR=$PWD/data_copy "$moeprobe" inspect model >/dev/null 2>err.txt || status=$?
[ "$status" = 2 ] || fail "MOEPROBE_DATA_DIR without mixtral.yaml: exit $status, expected 2"

# A lone copy of the binary has no data beside it: a clear error (exit 2), never a silent
# fallback to the tree it was built in.
# (It keeps the shared library and the modules beside it, in the prefix's layout, or it could not start.)
mkdir -p lone/bin
cp "$moeprobe" lone/bin/
core_lib=$(find "$prefix" -name 'libmoeprobe_core.so' | head -1)
libdir=${core_lib%/libmoeprobe_core.so}
mkdir -p "lone/${libdir#"$prefix"/}"
cp -a "$libdir"/libmoeprobe_core.so* "$libdir/moeprobe" "lone/${libdir#"$prefix"/}/"
status=0
lone/bin/moeprobe synth "$prefix/share/moeprobe/recipes/demo.yaml" --out lone_model \
  >/dev/null 2>err.txt || status=$?
[ "$status" = 2 ] || fail "binary without data: exit $status, expected 2"
grep -q "share/moeprobe" err.txt || fail "binary without data: error names no share/moeprobe"
[ ! -e lone_model/config.json ] || fail "binary without data still wrote a model"
echo "installed demo ran from $prefix (moved after install)"
