#!/usr/bin/env bash
# The test command: installs dependencies (Debian packages, incl. the RISC-V cross toolchain and QEMU), builds
# dory (Release, build/) and runs every test with CTest. Extra arguments go to ctest, e.g.
# `scripts/test.sh -L conformance`.
set -euo pipefail
cd "$(dirname "$0")/.."
# --riscv: the generated code is also tested as rv32imc under QEMU (tests/e2e/qemu_test.cpp, and the PULP-open
# ELF); without the cross toolchain those tests would only be skipped. --gvsoc: the Python modules GVSoC's launcher
# needs; the GVSoC tests (tests/e2e/gvsoc_test.cpp) run where GVSOC_INSTALL points at a GVSoC install.
scripts/install-deps.sh --riscv --gvsoc
scripts/build.sh build
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 1200 "$@"
