/* Calls the guest library but was linked without it (with --allow-undefined, as a
 * generic wasm build might be): the library's functions become imports from `env`. */
#include "jspi_host.h"

JSPI_EXPORT("fetch")
int fetch(int x) {
    return jspi_await_int(fake_fetch(x));
}
