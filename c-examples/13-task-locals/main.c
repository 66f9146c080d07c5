/* 13-task-locals: globals that each task needs its own copy of.
 *
 * libc keeps errno (and strtok's place, localtime's buffer, ...) in plain globals,
 * shared by every interleaved task: a task that sets it, awaits, and reads it back can
 * see what another task left there. jspi_task_local registers such a global once,
 * before any task starts; the library then saves each task's copy when it suspends
 * and puts it back when it resumes. `registered` below is one; `unregistered` is the
 * same code without the registration, and shows the bug. */
#include "jspi_host.h"

static volatile int registered;
static volatile int unregistered;

JSPI_EXPORT("setup")
int setup(void) {
    return jspi_task_local((void *)&registered, sizeof registered);
}

/* Sets both globals to its id, awaits, and reads them back. */
JSPI_EXPORT("worker")
void worker(int id, int ms) {
    registered = id;
    unregistered = id;
    jspi_sleep(ms);
    log_str_str("registered is my own:", registered == id ? "yes" : "no");
    log_str_str("unregistered is my own:", unregistered == id ? "yes" : "no");
}

/* The limits: too late (a task is alive), overlapping, empty. */
JSPI_EXPORT("late")
int late(void) {
    return jspi_task_local((void *)&unregistered, sizeof unregistered);
}

JSPI_EXPORT("holder")
void holder(int ms) {
    jspi_sleep(ms);
}
