#!/usr/bin/env bash
# Installs everything dory needs to build and test, from Debian packages only.
#   scripts/install-deps.sh            compiler build + tests (C++ toolchain, protobuf, libonnx, test libraries)
#   scripts/install-deps.sh --python   also python3-torch/python3-onnx/Fashion-MNIST (only to retrain the example)
# Idempotent: packages already present are skipped, so re-running it is cheap.
set -euo pipefail

packages=(
  g++ clang cmake ninja-build make pkg-config
  libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  nlohmann-json3-dev libcli11-dev libfmt-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  libclang-rt-14-dev zlib1g-dev dataset-fashion-mnist
)
if [[ "${1:-}" == "--python" ]]; then
  packages+=(python3-torch python3-onnx python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
