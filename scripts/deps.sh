#!/usr/bin/env bash
# Install what the build needs, with apt, only when something is missing.
set -euo pipefail
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -f /usr/include/cmocka.h ] || need+=(libcmocka-dev)
# --clang: the sanitizer builds and the fuzzers (clang with its sanitizer/fuzzer runtimes).
if [ "${1:-}" = "--clang" ]; then
    command -v clang >/dev/null 2>&1 || need+=(clang)
    ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
        need+=(libclang-rt-14-dev)
    command -v llvm-symbolizer >/dev/null 2>&1 || ls /usr/bin/llvm-symbolizer-* >/dev/null 2>&1 ||
        need+=(llvm)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "wdfdma: missing packages: ${need[*]} (run as root, or install them)" >&2
    exit 2
  fi
  echo "wdfdma: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
