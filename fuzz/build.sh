#!/usr/bin/env bash
# Build the libFuzzer targets with clang, ASan and UBSan, straight from the sources (not
# through CMake's globs, so the fuzz build does not depend on the project build):
#   fuzz/build.sh [OUT_DIR]      (default: fuzz/out)
# Targets: fuzz_faultspec (the fault-spec parser), fuzz_ddi (WDF DMA DDI sequences),
# fuzz_cmdline (tools/wdfdma/options.c, linked as it is).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${1:-$here/out}
cc=${CC:-clang}
mkdir -p "$out/obj"

common=(-std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fshort-wchar -fno-strict-aliasing
        -Wall -Wextra -Wno-multichar -Werror
        -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -I"$root/include" -I"$root/src" -I"$root")

# The library: every layer and every device model, instrumented for coverage. An object is
# rebuilt when its source or any header is newer (headers change struct layouts).
newest_header=$(find "$root/include" "$root/src" "$root/devices" -name '*.h' -printf '%T@ %p\n' |
                sort -n | tail -n 1 | cut -d' ' -f2-)
objs=()
for src in "$root"/src/machine/*.c "$root"/src/wdm/*.c "$root"/src/fx/*.c "$root"/src/host/*.c \
           "$root"/devices/*/*.c; do
    rel=${src#"$root"/}
    obj="$out/obj/${rel//\//_}.o"
    if [[ ! -f "$obj" || "$src" -nt "$obj" || "$newest_header" -nt "$obj" ]]; then
        "$cc" "${common[@]}" -fsanitize=fuzzer-no-link -fPIC -c "$src" -o "$obj" &
    fi
    objs+=("$obj")
    # keep at most 4 compilers running
    while (( $(jobs -r | wc -l) >= 4 )); do wait -n; done
done
wait

link=(-fsanitize=fuzzer,address,undefined -lpthread -ldl -lm)
"$cc" "${common[@]}" -fsanitize=fuzzer "$here/fuzz_faultspec.c" "${objs[@]}" "${link[@]}" \
    -o "$out/fuzz_faultspec"
"$cc" "${common[@]}" -fsanitize=fuzzer "$here/fuzz_ddi.c" "${objs[@]}" "${link[@]}" \
    -o "$out/fuzz_ddi"
"$cc" "${common[@]}" -fsanitize=fuzzer "$here/fuzz_cmdline.c" "$root/tools/wdfdma/options.c" \
    "${link[@]}" -o "$out/fuzz_cmdline"
echo "built: $out/fuzz_faultspec $out/fuzz_ddi $out/fuzz_cmdline"
