#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and fuzzes the ONNX model loader.
#   scripts/fuzz.sh [RUNS] [SEED]     (defaults: 25000 runs, about 75 s; seed 1)
# The run is reproducible: a fixed seed and number of runs from a fresh corpus, so CI's verdict does not depend
# on luck (use another SEED, or more RUNS, to explore). Seeds: the bundled models, DORY's example networks, ONNX's
# own node tests and the exporters' pattern models (tests/util/exporter_models.h: requantized Pads, QOperator Pads,
# padding as large as the kernel, Brevitas QCDQ Clips). Findings (crash-* files) land in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-25000}
seed=${2:-1}
scripts/build.sh build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDORY_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
seeds=build-fuzz/seeds
rm -rf "$seeds" build-fuzz/corpus && mkdir -p "$seeds" build-fuzz/corpus
find models -name '*.onnx' -exec cp {} "$seeds/" \;
if [[ -d ../shared/dory-examples ]]; then
  i=0; while IFS= read -r f; do cp "$f" "$seeds/dory_$((i++)).onnx"; done < <(find ../shared/dory-examples -name '*.onnx')
fi
for d in /usr/share/libonnx-testdata/data/node/test_{qlinear,convinteger,basic_conv,conv_with,maxpool_2d,averagepool_2d,globalaverage,quantizelinear,dequantizelinear,flatten,clip,relu,matmulinteger}*; do
  [[ -f "$d/model.onnx" ]] && cp "$d/model.onnx" "$seeds/$(basename "$d").onnx"
done
build-fuzz/tests/fuzz/write_seed_models "$seeds"
cd build-fuzz
start=$(date +%s)
./tests/fuzz/onnx_loader_fuzz -runs="$runs" -seed="$seed" -rss_limit_mb=4096 -timeout=20 -max_len=2000000 \
  -print_final_stats=1 corpus seeds
echo "fuzzing: $runs runs (seed $seed) in $(( $(date +%s) - start )) s without a finding"
