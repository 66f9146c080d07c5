/* A module that was never linked with the guest library: it only uses the host
 * environment, so it links, but it lacks the hooks a host needs to start a task. */
#include "jspi_host.h"

JSPI_EXPORT("work")
int work(int x) {
    log_int(x);
    return x + 1;
}
