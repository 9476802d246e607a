#!/usr/bin/env bash
# test_kmdf_compile.sh BUILD_DIR SOURCE_DIR
#
# Genuine-looking KMDF driver source (tests/kmdf_compile/*.c, including only <ntddk.h>,
# <wdf.h> and its own headers) must compile unchanged against include/ with the
# project's strict flags, under cc and, when installed, clang. Syntax-only: nothing
# is linked, so this checks the WDK-named headers alone.
set -u

build_dir=${1:?usage: test_kmdf_compile.sh BUILD_DIR SOURCE_DIR}
src_dir=${2:?usage: test_kmdf_compile.sh BUILD_DIR SOURCE_DIR}
: "$build_dir"

flags=(-std=c17 -fshort-wchar -Wall -Wextra -Werror -fsyntax-only -I"$src_dir/include")

compilers=(cc)
if command -v clang >/dev/null 2>&1; then
    compilers+=(clang)
fi

shopt -s nullglob
sources=("$src_dir"/tests/kmdf_compile/*.c)
if [ ${#sources[@]} -eq 0 ]; then
    echo "no sources in $src_dir/tests/kmdf_compile" >&2
    exit 1
fi

passed=0
failed=0
for compiler in "${compilers[@]}"; do
    for source in "${sources[@]}"; do
        name="$compiler $(basename "$source")"
        if output=$("$compiler" "${flags[@]}" "$source" 2>&1); then
            echo "PASS $name"
            passed=$((passed + 1))
        else
            echo "FAIL $name"
            printf '%s\n' "$output" | sed 's/^/    /'
            failed=$((failed + 1))
        fi
    done
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
