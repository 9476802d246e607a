#!/usr/bin/env bash
# test_install.sh BUILD_DIR SOURCE_DIR
#
# The install works end to end, in temporary directories only:
#   1. `cmake --install BUILD --prefix TMP` puts the command, libwdfdma, the headers,
#      wdfdma.pc, the sample drivers with their INFs and the man page in place;
#   2. an out-of-tree KMDF driver (tests/out_of_tree/pktdma.c + .inf) and a host program
#      build with the system compiler and nothing but `pkg-config --cflags --libs wdfdma`;
#   3. the host program loads the driver, binds it to an sgdma device and moves verified
#      data through it; the installed `wdfdma` runs the sgdma scenario with the installed
#      sample driver (and the out-of-tree driver, when `wdfdma run` has --driver);
#   4. the tree still works after it is moved, and DESTDIR staging works.
set -u
BUILD=$(cd "${1:?usage: test_install.sh BUILD_DIR SOURCE_DIR}" && pwd)
SRC=$(cd "${2:?usage: test_install.sh BUILD_DIR SOURCE_DIR}" && pwd)
CC=${CC:-cc}
# A sanitizer build's library needs its runtime in every program that links it: build the
# out-of-tree programs the same way (an installed release build needs nothing extra).
SAN=$(sed -n 's/^WDFDMA_SANITIZE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
if [ -n "$SAN" ]; then
    CC=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
    CC="$CC -fsanitize=$SAN"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wdfdma-install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "-- $*"; }

# Nothing from the machine's global state: only our pkg-config directory, no preloads.
unset LD_LIBRARY_PATH LD_PRELOAD
export PKG_CONFIG_SYSROOT_DIR=

# ---- 1. install into a temporary prefix ---------------------------------------------
PREFIX=$TMP/prefix
step "cmake --install $BUILD --prefix $PREFIX"
cmake --install "$BUILD" --prefix "$PREFIX" > "$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log" >&2; die "cmake --install failed (is the build complete?)"; }

PC=$(find "$PREFIX" -name wdfdma.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$PC" ] || die "wdfdma.pc not installed under $PREFIX"
export PKG_CONFIG_PATH=$(dirname "$PC")
export PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH
LIBDIR=$(pkg-config --variable=libdir wdfdma) || die "pkg-config cannot read $PC"
INCDIR=$(pkg-config --variable=includedir wdfdma)
DRVDIR=$(pkg-config --variable=driverdir wdfdma)

for f in bin/wdfdma share/man/man1/wdfdma.1; do
    [ -e "$PREFIX/$f" ] || fail "not installed: $f"
done
for f in "$LIBDIR/libwdfdma.so" "$LIBDIR/libwdfdma.so.0" "$INCDIR/ntddk.h" "$INCDIR/wdm.h" \
         "$INCDIR/wdf.h" "$INCDIR/wdfdmatransaction.h" "$INCDIR/wdfdma/machine.h" \
         "$INCDIR/wdfdma/host.h" "$INCDIR/wdfdma/io.h" "$DRVDIR/sgdma.so" "$DRVDIR/sgdma.inf"; do
    [ -e "$f" ] || fail "not installed: ${f#$PREFIX/}"
done
for d in "$SRC"/drivers/*/; do
    name=$(basename "$d")
    ls "$d"*.c > /dev/null 2>&1 || continue
    [ -e "$DRVDIR/$name.so" ] || fail "sample driver not installed: lib/wdfdma/drivers/$name.so"
done
[ "$FAILS" -eq 0 ] || die "$FAILS installed files missing"
case "$(readelf -d "$PREFIX/bin/wdfdma" 2>/dev/null)" in
    *'$ORIGIN'*) ;;
    *) fail "bin/wdfdma has no \$ORIGIN rpath: it will not find libwdfdma.so" ;;
esac

# ---- 2. an out-of-tree driver and a host program, built with pkg-config only ----------
CFLAGS=$(pkg-config --cflags wdfdma) || die "pkg-config --cflags wdfdma failed"
LIBS=$(pkg-config --libs wdfdma) || die "pkg-config --libs wdfdma failed"
OOT=$TMP/oot
mkdir -p "$OOT"
cp "$SRC/tests/out_of_tree/pktdma.c" "$SRC/tests/out_of_tree/pktdma.inf" \
   "$SRC/tests/out_of_tree/host.c" "$OOT/"
step "$CC -shared pktdma.c \$(pkg-config --cflags --libs wdfdma)"
(cd "$OOT" && $CC -std=c17 -Wall -Wextra -Werror -fPIC -shared -o pktdma.so pktdma.c \
    $CFLAGS $LIBS) || die "the out-of-tree driver does not build against the installed SDK"
step "$CC host.c \$(pkg-config --cflags --libs wdfdma)"
(cd "$OOT" && $CC -std=c17 -Wall -Wextra -Werror -o host host.c $CFLAGS $LIBS \
    -Wl,-rpath,"$LIBDIR") || die "the host program does not build against the installed SDK"

# ---- 3. run it ------------------------------------------------------------------------
step "host pktdma.so"
"$OOT/host" "$OOT/pktdma.so" > "$TMP/host.log" 2>&1 || { cat "$TMP/host.log" >&2;
    fail "the out-of-tree driver did not move verified data"; }
grep -q "^host: ok" "$TMP/host.log" || fail "host did not report ok"
tail -n 1 "$TMP/host.log"

# Two runs of one seed are the same run: same transfers, same statistics.
"$OOT/host" "$OOT/pktdma.so" > "$TMP/host2.log" 2>&1
sed 's/, trace hash [0-9a-f]*//' "$TMP/host.log" > "$TMP/host.a"
sed 's/, trace hash [0-9a-f]*//' "$TMP/host2.log" > "$TMP/host.b"
cmp -s "$TMP/host.a" "$TMP/host.b" || fail "same seed, different results (determinism)"
cmp -s "$TMP/host.log" "$TMP/host2.log" ||
    echo "   note: same seed, different trace hash (a host address reaches the trace)"

# Which files did a process load? The real paths of ld.so's "calling init:" lines.
loaded() { sed -n 's/.*calling init: //p' "$1" | while read -r f; do realpath "$f"; done; }

step "wdfdma run sgdma (installed command, installed sample driver)"
LD_DEBUG=files "$PREFIX/bin/wdfdma" run sgdma --size 64K --count 2 > "$TMP/run.log" \
    2> "$TMP/run.err" || { grep -v "^ *[0-9]*:" "$TMP/run.err" | tail -n 20 >&2;
    fail "installed wdfdma run sgdma failed"; }
loaded "$TMP/run.err" > "$TMP/run.loaded"
grep -qx "$(realpath "$LIBDIR/libwdfdma.so.0")" "$TMP/run.loaded" ||
    fail "installed wdfdma did not load the installed libwdfdma.so.0"
grep -qx "$(realpath "$DRVDIR/sgdma.so")" "$TMP/run.loaded" ||
    fail "installed wdfdma did not load the installed sample driver (lib/wdfdma/drivers/sgdma.so)"

if "$PREFIX/bin/wdfdma" run --help 2>&1 | grep -q -- '--driver'; then
    step "wdfdma run --driver pktdma.so --device sgdma"
    "$PREFIX/bin/wdfdma" run --driver "$OOT/pktdma.so" --device sgdma --size 64K --count 2 \
        > "$TMP/drv.log" 2>&1 || { tail -n 20 "$TMP/drv.log" >&2;
        fail "wdfdma run --driver pktdma.so --device sgdma failed"; }
else
    echo "   (wdfdma run has no --driver option: skipped)"
fi

# ---- 4. relocation and DESTDIR --------------------------------------------------------
step "move the installed tree"
mv "$PREFIX" "$TMP/moved"
export PKG_CONFIG_PATH=${PKG_CONFIG_PATH/$PREFIX/$TMP/moved}
export PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH
case "$(pkg-config --cflags wdfdma)" in
    *"$TMP/moved/"*) ;;
    *) fail "wdfdma.pc does not follow the moved tree: $(pkg-config --cflags wdfdma)" ;;
esac
"$TMP/moved/bin/wdfdma" run sgdma --size 4K --count 2 > "$TMP/moved.log" 2>&1 ||
    { tail -n 20 "$TMP/moved.log" >&2; fail "the moved wdfdma does not run"; }

step "DESTDIR=\$TMP/stage cmake --install --prefix /opt/wdfdma"
DESTDIR=$TMP/stage cmake --install "$BUILD" --prefix /opt/wdfdma > "$TMP/stage.log" 2>&1 ||
    { cat "$TMP/stage.log" >&2; fail "DESTDIR install failed"; }
[ -x "$TMP/stage/opt/wdfdma/bin/wdfdma" ] || fail "DESTDIR: bin/wdfdma not staged"
[ -e "$TMP/stage/opt/wdfdma/lib/wdfdma/drivers/sgdma.so" ] ||
    fail "DESTDIR: lib/wdfdma/drivers/sgdma.so not staged"
[ -n "$(find "$TMP/stage/opt/wdfdma" -name wdfdma.pc)" ] || fail "DESTDIR: wdfdma.pc not staged"

if [ "$FAILS" -ne 0 ]; then
    echo "test_install: $FAILS failure(s)" >&2
    exit 1
fi
echo "test_install: ok"
