#!/usr/bin/env bash
# The main job on the bundled example: installs dependencies, builds dory, then imports the Fashion-MNIST
# network (models/fmnist), prints its layer table, runs the bit-exact reference executor on a test image,
# checks every layer output against the goldens computed by the training script's own int64 evaluation, and
# plans the optimal L2->L1 tiling of every layer for GAP-8.
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
echo "== dory tile $model --target gap8"
$dory tile "$model" --target gap8
