#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and fuzzes the ONNX model loader.
#   scripts/fuzz.sh [SECONDS]      (default 60)
# Seeds: the bundled models, DORY's example networks and ONNX's own node tests. Findings land in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scripts/build.sh build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDORY_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
seeds=build-fuzz/seeds
rm -rf "$seeds" && mkdir -p "$seeds" build-fuzz/corpus
find models -name '*.onnx' -exec cp {} "$seeds/" \;
if [[ -d ../shared/dory-examples ]]; then
  i=0; while IFS= read -r f; do cp "$f" "$seeds/dory_$((i++)).onnx"; done < <(find ../shared/dory-examples -name '*.onnx')
fi
for d in /usr/share/libonnx-testdata/data/node/test_{qlinear,convinteger,basic_conv,conv_with,maxpool_2d,averagepool_2d,globalaverage,quantizelinear,dequantizelinear,flatten,clip,relu,matmulinteger}*; do
  [[ -f "$d/model.onnx" ]] && cp "$d/model.onnx" "$seeds/$(basename "$d").onnx"
done
cd build-fuzz
./tests/fuzz/onnx_loader_fuzz -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=20 -max_len=2000000 \
  -print_final_stats=1 corpus seeds
