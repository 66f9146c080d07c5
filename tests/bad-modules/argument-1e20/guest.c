/* A correct guest, linked with the guest library; the scenario is what is wrong. */
#include "jspi_host.h"

JSPI_EXPORT("fetch")
int fetch(int x) {
    return jspi_await_int(fake_fetch(x));
}

JSPI_EXPORT("add")
int add(int a, int b) {
    return a + b;
}
