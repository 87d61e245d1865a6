#!/usr/bin/env bash
# The main job on the bundled example: installs dependencies, builds dory, then imports the Fashion-MNIST
# network (models/fmnist), prints its layer table, runs the bit-exact reference executor on a test image,
# checks every layer output against the goldens computed by the training script's own int64 evaluation, then
# deploys it for GAP-8 (optimal L2->L1 tiling, static memory plan, proven DMA schedule, generated C application),
# builds the application with the system C compiler, runs it on the host platform with 8 cores and checks every
# layer against the reference executor, tiled and then L2-direct (the paper's baseline, next to its modeled cost).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
dory=build/tools/dory/dory
model=models/fmnist/fmnist_int.onnx
golden=models/fmnist/golden/img0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== dory inspect $model"
$dory inspect "$model"
echo
echo "== dory reference $model --input $golden/input.npy --dump-dir $out"
$dory reference "$model" --input "$golden/input.npy" --dump-dir "$out"
echo
echo "== comparing every layer with the goldens in $golden"
mkdir "$out/expected"
for f in "$golden"/*.npy; do [[ $(basename "$f") == input.npy ]] || cp "$f" "$out/expected/"; done
$dory compare "$out" "$out/expected"
echo
echo "== dory run $model --target gap8 --input $golden/input.npy --mode both -o $out/app"
echo "   (DORY's tiles, then every layer on its operands in L2 without DMA: the paper's baseline; both checked)"
$dory run "$model" --target gap8 --input "$golden/input.npy" --mode both -o "$out/app"
echo
echo "== the same network with a 16 kB L1 budget (more tiles, same bits)"
$dory run "$model" --target gap8 --l1 16k --input "$golden/input.npy"
