#!/usr/bin/env bash
# Installs everything dory needs to build and test, from Debian packages only.
#   scripts/install-deps.sh            compiler build + tests (C++ toolchain, protobuf, libonnx, test libraries)
#   scripts/install-deps.sh --python   also python3-torch/python3-onnx/Fashion-MNIST (only to retrain the example)
#   scripts/install-deps.sh --riscv    also the RISC-V cross toolchain and QEMU (gcc-riscv64-unknown-elf,
#                                      picolibc-riscv64-unknown-elf, qemu-user, qemu-system-misc): the qemu platform
#                                      (docs/deploy.md "RISC-V under QEMU") and the pulp-open ELF (compiler and
#                                      picolibc only; docs/deploy.md "PULP-open"); about 1.3 GB
#   scripts/install-deps.sh --gvsoc    also the Python modules GVSoC's launcher imports at run time (GVSoC itself
#                                      is not a Debian package: point GVSOC_INSTALL at an install; docs/deploy.md)
# Options combine (--riscv --gvsoc --python). Idempotent: packages already present are skipped, so re-running it is cheap.
set -euo pipefail

packages=(
  g++ clang cmake ninja-build make pkg-config
  libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  nlohmann-json3-dev libcli11-dev libfmt-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  libclang-rt-14-dev zlib1g-dev dataset-fashion-mnist
  chromium  # headless browser: tests/e2e/report_browser_test.cpp opens `dory eval --report`'s HTML page
  python3-onnx  # onnx.checker: tests/e2e/exporter_patterns_test.cpp checks that its test models are legal ONNX
)
for opt in "$@"; do
  case "$opt" in
    --python) packages+=(python3-torch python3-onnx python3-numpy) ;;
    --riscv) packages+=(gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-user qemu-system-misc) ;;
    --gvsoc) packages+=(python3 python3-pyelftools python3-pexpect python3-prettytable python3-psutil python3-rich
                        python3-six python3-typing-extensions) ;;
    *) echo "install-deps: unknown option '$opt' (use --python, --riscv and/or --gvsoc)" >&2; exit 1 ;;
  esac
done

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
