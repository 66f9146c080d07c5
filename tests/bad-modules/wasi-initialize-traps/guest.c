/* A reactor whose constructors trap: `_initialize` runs at instantiation, before
 * any step, and its failure is the module's. */
#include "jspi.h"

JSPI_EXPORT("_initialize") void initialize(void) {
    __builtin_trap();
}

JSPI_EXPORT("run") void run(void) {}
