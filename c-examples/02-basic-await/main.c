/* 02-basic-await: synchronous C blocks on a host promise.
 *
 * fake_fetch(x) returns a promise (an __externref_t) that the host fulfils with
 * x + 1 after 500 ms of virtual time. jspi_await_int suspends the running task until
 * then; the C code reads as if the call were synchronous. */
#include "jspi_host.h"

JSPI_EXPORT("fakePyFunc")
void fakePyFunc(int x) {
    log_str("about to await fake_fetch");
    int result = jspi_await_int(fake_fetch(x));
    log_str("got result:");
    log_int(result);
}

/* A rejected promise reaches C as a status it can check, never as a made-up value.
 * Returns the fetched value, or -1 when the promise rejected. */
JSPI_EXPORT("fetchOrDefault")
int fetchOrDefault(int code) {
    int32_t value = 0;
    jspi_status status = jspi_try_await_int(rejecting(code, 100), &value);
    if (status == JSPI_REJECTED) {
        log_str("the promise rejected; using -1");
        return -1;
    }
    return value;
}

/* jspi_await_int on a rejected promise fails the task with the rejection's reason,
 * the way `await` throws in JavaScript. */
JSPI_EXPORT("fetchOrFail")
int fetchOrFail(int code) {
    int value = jspi_await_int(rejecting(code, 100));
    log_str("not reached");
    return value;
}
