/* builtins.c: freestanding code that needs a compiler builtin (`long double` is a
 * 128-bit float on wasm32: its multiply is compiler-rt's __multf3). `cargo xtask test`
 * checks that it does not link with libjspi.a alone (the library supplies no
 * builtins) and links once compiler-rt's archive is added, as docs/dist.md says. */
#include "jspi.h"

JSPI_EXPORT("scaled") int scaled(int x) {
    long double y = (long double)x * 1.5L;
    return (int)y;
}
