#!/usr/bin/env bash
# Build the DPDK peer benchmark (bench/peer/peer_dpdk.c) into $1 (default
# build/bench/peer_dpdk). Needs DPDK's development files (Debian: dpdk-dev) and the
# dma_skeleton driver (librte-dma-skeleton23); scripts/bench.sh calls this only when
# `pkg-config --exists libdpdk`. The driver is linked in by name: DPDK loads PMDs from
# its plugin directory only when asked (-d), and linking it registers the vdev.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/bench/peer_dpdk}
mkdir -p "$(dirname "$out")"
cc=${CC:-cc}
# shellcheck disable=SC2046
"$cc" -O2 -std=gnu17 -Wall -Wextra -Werror -Wno-unused-parameter -o "$out" \
  "$here/peer_dpdk.c" $(pkg-config --cflags libdpdk) \
  -Wl,--no-as-needed -lrte_dma_skeleton $(pkg-config --libs libdpdk)
