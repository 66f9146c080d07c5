/* 04-reentrancy: two suspended tasks share one shadow stack.
 *
 * JSPI switches the engine's stack, but clang keeps address-taken locals on a
 * shadow stack in linear memory, addressed by the global __stack_pointer, which
 * nobody switches. The schedule in scenario.json:
 *
 *   1. allocateOnStackAndSleep starts, puts 16 bytes on the shadow stack, suspends;
 *   2. victim starts *below* those bytes, puts its string there, suspends;
 *   3. allocateOnStackAndSleep resumes and returns: __stack_pointer goes back up
 *      past victim's frame, which is now free space as far as anyone can tell;
 *   4. overwritesVictimsStack, a plain synchronous call, puts a long string there;
 *   5. victim resumes and prints its string.
 *
 * Built with strategy none, step 5 prints the other function's bytes. Built with
 * eager or lazy, the guest library saves victim's bytes before they are overwritten
 * and puts them back before victim runs again. */
#include "jspi_host.h"

JSPI_EXPORT("allocateOnStackAndSleep")
void allocateOnStackAndSleep(void) {
    int x[] = {7};
    escape(x); /* x must live in linear memory */
    jspi_sleep(0);
}

JSPI_EXPORT("victim")
void victim(void) {
    char x[] = "victim's important string";
    escape(x);
    log_str_str("victim1", x);
    jspi_sleep(500);
    log_str_str("victim2", x);
}

JSPI_EXPORT("overwritesVictimsStack")
void overwritesVictimsStack(void) {
    char x[] = "this is a long string and it will write over a lot of other stuff!";
    escape(x);
}

/* 1 inside a promising task, 0 in a plain synchronous call. */
JSPI_EXPORT("canSuspend")
int canSuspend(void) {
    return jspi_can_suspend();
}
