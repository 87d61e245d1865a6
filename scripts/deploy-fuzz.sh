#!/usr/bin/env bash
# Differential fuzzing of the whole deployment path (tests/fuzz/deploy_fuzz.cpp): random layers x random L1
# budgets x objectives x targets -> generated C application -> system C compiler -> host platform with 1 and 8
# cores -> every element compared with the reference executor.
#   scripts/deploy-fuzz.sh [CASES] [SEED] [SANITIZE] [BUILD_DIR] [PLATFORM]
#     CASES     default 2000;  SEED default 1 (case K of SEED replays alone: deploy_fuzz --seed SEED --case K)
#     SANITIZE  none (default), address (ASan+UBSan) or thread (TSan): the runtime and every application
#     BUILD_DIR default build (built with scripts/build.sh if needed)
#     PLATFORM  host (default) or qemu: every case cross-compiled for rv32imc and run under qemu-riscv32 instead
#               (needs scripts/install-deps.sh --riscv; SANITIZE must be none); or gvsoc: every case deployed for
#               pulp-open, many cases per PULP-open ELF, run on GVSoC (needs GVSOC_INSTALL too; exit 77 without it).
#               Runs one job per core (on gvsoc, each job its own GVSoC).
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-2000}
seed=${2:-1}
sanitize=${3:-none}
build=${4:-build}
platform=${5:-host}
if [[ ! -x "$build/tests/deploy_fuzz" ]]; then scripts/build.sh "$build"; fi
"$build/tests/deploy_fuzz" --cases "$cases" --seed "$seed" --jobs "$(nproc)" --sanitize "$sanitize" \
  --platform "$platform"
