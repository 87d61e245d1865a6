#!/usr/bin/env bash
# bench/gvsoc/run.sh: builds the GVSoC kernel harness and runs it on GVSoC pulp-open (README.md).
#   run.sh diff  [--seed N] [--cases N] [--families MASK]   differential mode (xpulpv2 kernels vs portable twins)
#   run.sh bench [--families MASK] [--no-twin]              benchmark table (8 and 1 cores, xpulpv2 and twin)
#   run.sh model [--seed N] [--cases N] [--families MASK]  the differential mode on the host, the asm blocks
#                                                           replaced by their C models (xpulp.h DORY_XP_HOST_MODEL)
#   run.sh l3                                               the L3 probe (l3_probe.c): HyperRAM timing via dory's HAL
#   run.sh dma                                              the cluster DMA probe (dma_probe.c): MCHAN timing via dory's HAL
#   run.sh build ... | build-bench ... | build-l3 | build-dma  only build the diff / bench / L3 / DMA probe ELF (prints its path)
# Needs Debian's gcc-riscv64-unknown-elf and picolibc-riscv64-unknown-elf, and GVSOC_INSTALL (a GVSoC install
# with the pulp-open target). Builds in $BUILD_DIR (default: a temporary directory), runs in a temporary work
# directory (GVSoC writes 64 MB there) that is removed afterwards. OPT (default -O2) sets the optimization level.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=${1:-diff}
shift || true
seed=1 cases=40 families=0xFF twin=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --seed) seed=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --families) families=$2; shift 2 ;;
    --no-twin) twin=0; shift ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case $mode in
  diff|build) mode_num=1 ;;
  bench|build-bench) mode_num=2 ;;
  l3|build-l3) mode_num=3 ;;
  dma|build-dma) mode_num=4 ;;
  model)
    # the drivers with C models of the asm blocks, on the host (fast; no GVSoC)
    build=${BUILD_DIR:-$(mktemp -d)}
    mkdir -p "$build"
    ${HOST_CC:-cc} -O1 -g -std=c99 -DDORY_XP_HOST_MODEL -Wall -Wextra -I"$root/runtime/include" \
      -o "$build/kmodel" "$here/host_model.c" "$here/harness.c" "$here/cases.c" "$here/diff.c" \
      "$root"/runtime/kernels/*.c "$root"/runtime/kernels/xpulpv2/*.c
    exec "$build/kmodel" "$seed" "$cases" "$families" ;;
  *) echo "run.sh: mode is diff, bench, model, l3, dma or build" >&2; exit 2 ;;
esac
CC=${RV32_CC:-riscv64-unknown-elf-gcc}
# Without GVSoC or the cross compiler a run that needs them exits 77 (CTest's skip), or fails under CI=true.
need_tools() {
  local missing=""
  command -v "${RV32_CC:-riscv64-unknown-elf-gcc}" >/dev/null 2>&1 || missing="riscv64-unknown-elf-gcc"
  if [[ $mode != build* && ( -z "${GVSOC_INSTALL:-}" || ! -x "${GVSOC_INSTALL:-}/bin/gvsoc" ) ]]; then
    missing="${missing:+$missing, }GVSoC (GVSOC_INSTALL)"
  fi
  if [[ -n $missing ]]; then
    echo "run.sh: needs $missing (scripts/install-deps.sh --riscv --gvsoc; GVSOC_INSTALL: ../shared/tools/gvsoc/install)" >&2
    [[ ${CI:-} == true ]] && exit 1
    exit 77
  fi
}
[[ $mode == model ]] || need_tools
if [[ -n ${BUILD_DIR:-} ]]; then build=$BUILD_DIR; else build=$(mktemp -d); trap 'rm -rf "$build"' EXIT; fi
mkdir -p "$build"
cflags=(${OPT:--O2} -g -std=c99 -march=rv32imc_zicsr -mabi=ilp32 --specs=picolibc.specs -DDORY_PLATFORM_PULP_OPEN
        -ffunction-sections -fdata-sections
        -Wall -Wextra -Wconversion -Wno-sign-conversion -I"$root/runtime/include"
        -DBENCH_MODE=$mode_num -DBENCH_SEED=$seed -DBENCH_CASES=$cases -DBENCH_FAMILIES=$families
        -DBENCH_TWIN=$twin)
hal=("$root"/runtime/hal/pulp-open/hal_pulp_open.c "$root"/runtime/hal/pulp-open/io_pulp_open.c
     "$root"/runtime/hal/pulp-open/mchan_split.c)
if (( mode_num == 3 )); then
  srcs=("$here"/l3_probe.c "${hal[@]}" "$root"/runtime/hal/pulp-open/l3_hyper.c)
elif (( mode_num == 4 )); then
  srcs=("$here"/dma_probe.c "${hal[@]}")
else
  srcs=("$here"/main.c "$here"/harness.c "$here"/isa_selftest.c "$here"/cases.c "$here"/diff.c "$here"/bench.c
        "$root"/runtime/kernels/*.c "$root"/runtime/kernels/xpulpv2/*.c "${hal[@]}")
fi
objs=()
jobs=0
for s in "${srcs[@]}"; do
  o="$build/$(basename "$(dirname "$s")")_$(basename "${s%.c}").o"
  "$CC" "${cflags[@]}" -c "$s" -o "$o" &
  objs+=("$o")
  if (( ++jobs % ${JOBS:-2} == 0 )); then wait -n; fi
done
while wait -n; do :; done || true
for o in "${objs[@]}"; do [[ -f $o ]] || { echo "run.sh: compiling failed" >&2; exit 1; }; done
"$CC" -march=rv32imc_zicsr -mabi=ilp32 -c "$root/runtime/hal/pulp-open/crt0.S" -o "$build/crt0.o"
"$CC" -march=rv32imc -mabi=ilp32 --specs=picolibc.specs -nostartfiles -Wl,--no-warn-rwx-segments -Wl,--gc-sections \
      -T "$root/runtime/hal/pulp-open/link.ld" -o "$build/kbench.elf" "${objs[@]}" "$build/crt0.o"
if [[ $mode == build* ]]; then echo "$build/kbench.elf"; exit 0; fi
: "${GVSOC_INSTALL:?set GVSOC_INSTALL to a GVSoC install with the pulp-open target}"
wd=$(mktemp -d)
if [[ -n ${BUILD_DIR:-} ]]; then trap 'rm -rf "$wd"' EXIT; else trap 'rm -rf "$wd" "$build"' EXIT; fi
PATH="$GVSOC_INSTALL/bin:/usr/bin:/bin" gvsoc --target=pulp-open --work-dir="$wd" --binary "$build/kbench.elf" \
  image flash run
