#!/usr/bin/env bash
# The test command: installs dependencies (Debian packages, incl. the RISC-V cross toolchain and QEMU), builds
# dory (Release, build/) and runs every test with CTest. Extra arguments go to ctest, e.g.
# `scripts/test.sh -L conformance`.
set -euo pipefail
cd "$(dirname "$0")/.."
# --riscv: the generated code is also tested as rv32imc under QEMU (tests/e2e/qemu_test.cpp, and the PULP-open
# ELF); without the cross toolchain those tests would only be skipped.
scripts/install-deps.sh --riscv
scripts/build.sh build
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 1200 "$@"
