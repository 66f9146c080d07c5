/* 03-separate-await: create promises first, block on them later.
 *
 * Both host operations start before C waits for either, so they run concurrently:
 * the whole function takes 1000 ms of virtual time, not 1500. A promise is an opaque
 * __externref_t: C can hold it in a local and pass it on, nothing else. */
#include "jspi_host.h"

JSPI_EXPORT("pythonFunction")
void pythonFunction(int x) {
    log_str("calling fake_fetch");
    __externref_t fetched = fake_fetch(x);
    log_str("calling fake_db_query");
    __externref_t queried = fake_db_query(x);

    log_str("awaiting the fetch");
    int first = jspi_await_int(fetched);
    log_str("first result:");
    log_int(first);

    log_str("awaiting the query");
    int second = jspi_await_int(queried);
    log_str("second result:");
    log_int(second);
}

/* jspi_await_externref gives back any value; log_ref prints it as the host sees it. */
JSPI_EXPORT("awaitAnything")
void awaitAnything(void) {
    __externref_t nothing = jspi_await_externref(delay(10));
    log_ref(nothing);
    __externref_t number = jspi_await_externref(delayed_int(42, 10));
    log_ref(number);
}
