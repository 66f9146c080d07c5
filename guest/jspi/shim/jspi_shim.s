# jspi_shim.s: the only code that moves __stack_pointer, and the suspending call.
#
# Why assembly: the bookkeeping (guest/stack-state, in Rust) must not run on the shadow
# stack it is rearranging. At a resume, the task's own range is about to be copied
# back; at an enter, the stack pointer is about to be moved. So every entry into the
# Rust side switches __stack_pointer to a private scratch stack first, and sets the
# value the Rust side decides only after it returns. Functions here keep everything in
# wasm locals (the engine's native stack, which JSPI switches), never in linear memory.
#
#   linear memory
#   0 ─────────────── __stack_high ─── data ─── jspi_scratch[16 KiB] ─── heap (grown)
#   └─ shadow stack ─┘                          Rust bookkeeping runs here
#
# Rust functions called from here return an i64: high word a task id or a flag, low
# word a stack pointer. 0 in the high word always means "error": the Rust side has
# recorded a message, and the shim puts back the stack pointer it came with and fails
# through jspi_fail_last. leave and done answer 1 "set the low word" or 2 "keep".
#
# Every extern is declared once, here at the top.

        .globaltype __stack_pointer, i32

        # The suspending import: the host waits for the promise and returns the value,
        # or a rejection marker.
        .functype jspi_host_await (externref) -> (externref)
        .import_module jspi_host_await, jspi
        .import_name jspi_host_await, await

        # Fails with the UTF-8 message at (ptr, len): the library's one way out
        # (jspi_api.c; it calls the host's jspi.fail, which throws or traps).
        .functype jspi_fail_with (i32, i32) -> ()

        # Fails a jspi_call_leave given a token that is not a stack pointer (jspi_api.c).
        .functype jspi_fail_bad_call_token () -> ()

        # The Rust side (guest/jspi/src/lib.rs).
        .functype jspi_rs_enter (i32) -> (i64)
        .functype jspi_rs_leave (i32) -> (i64)
        .functype jspi_rs_done (i32) -> (i64)
        .functype jspi_rs_top () -> (i64)
        .functype jspi_rs_locate (i32, i32) -> (i64)
        .functype jspi_rs_current () -> (i32)
        .functype jspi_rs_suspend (i32) -> (i64)
        .functype jspi_rs_resume (i32, i32) -> (i64)
        .functype jspi_rs_error_ptr () -> (i32)
        .functype jspi_rs_error_len () -> (i32)

        # jspi_plain_calls (a u32 in jspi_api.c): plain calls running, counted by
        # jspi_call_enter/jspi_call_leave, read by the Rust side's enter.

        # The scratch stack for the bookkeeping (16 KiB, in jspi_api.c); it is never
        # used re-entrantly: the bookkeeping calls nothing that could come back into wasm.
        # Functions below use its top, jspi_scratch+16384.

# Fails with the Rust side's last error message. The caller has already put the
# stack pointer back where it was, so the host sees a sane stack after the throw.
        .section .text.jspi_fail_last,"",@
        .hidden jspi_fail_last
        .type jspi_fail_last,@function
jspi_fail_last:
        .functype jspi_fail_last () -> ()
        call jspi_rs_error_ptr          # message address (a static buffer)
        call jspi_rs_error_len          # message length
        call jspi_fail_with             # throws; never returns
        unreachable
        end_function

# u32 jspi_task_enter(void): exported; the host calls it right before it starts an
# export as a promising task. Returns the task id and leaves __stack_pointer where the
# task must start.
        .section .text.jspi_task_enter,"",@
        .globl jspi_task_enter
        .export_name jspi_task_enter, jspi_task_enter     # exported by any link that pulls this file in
        .type jspi_task_enter,@function
jspi_task_enter:
        .functype jspi_task_enter () -> (i32)
        .local i32, i64                 # 0: caller's sp, 1: result
        global.get __stack_pointer
        local.set 0                     # the caller's stack pointer
        i32.const jspi_scratch+16384
        global.set __stack_pointer      # bookkeeping runs on the scratch stack
        local.get 0
        call jspi_rs_enter              # (id << 32) | new sp; id 0 = error
        local.set 1
        local.get 1
        i64.const 32
        i64.shr_u
        i64.eqz
        if                              # error: restore the caller's sp and throw
        local.get 0
        global.set __stack_pointer
        call jspi_fail_last
        end_if
        local.get 1
        i32.wrap_i64
        global.set __stack_pointer      # the task starts here
        local.get 1
        i64.const 32
        i64.shr_u
        i32.wrap_i64                    # the id
        end_function

# leave and done call their Rust hook, then set the stack pointer it asks for, put
# back the one they came with, or fail (a bad id) with that one put back. The body
# they share, with the Rust hook to call:
        .macro task_hook hook
        .local i32, i64, i32            # 1: sp on entry, 2: result, 3: its flag
        global.get __stack_pointer
        local.set 1
        i32.const jspi_scratch+16384
        global.set __stack_pointer
        local.get 0
        call \hook                      # (1 << 32) | sp to set, 2 << 32 to keep, 0 = error
        local.set 2
        local.get 2
        i64.const 32
        i64.shr_u
        i32.wrap_i64
        local.tee 3                     # the flag
        i32.eqz
        if                              # error: restore the caller's sp and throw
        local.get 1
        global.set __stack_pointer
        call jspi_fail_last
        end_if
        local.get 3
        i32.const 1
        i32.eq
        if                              # the sp the Rust side asks for
        local.get 2
        i32.wrap_i64
        global.set __stack_pointer
        else                            # nothing to change: the sp we came with
        local.get 1
        global.set __stack_pointer
        end_if
        .endm

#   void jspi_task_leave(u32 id): right after the promising call first returns.
        .section .text.jspi_task_leave,"",@
        .globl jspi_task_leave
        .export_name jspi_task_leave, jspi_task_leave     # exported by any link that pulls this file in
        .type jspi_task_leave,@function
jspi_task_leave:
        .functype jspi_task_leave (i32) -> ()
        task_hook jspi_rs_leave
        end_function

#   void jspi_task_done(u32 id): when the task's promise settles, from top level.
        .section .text.jspi_task_done,"",@
        .globl jspi_task_done
        .export_name jspi_task_done, jspi_task_done     # exported by any link that pulls this file in
        .type jspi_task_done,@function
jspi_task_done:
        .functype jspi_task_done (i32) -> ()
        task_hook jspi_rs_done
        end_function

# Plain calls. A plain (synchronous) call that traps or throws deep inside leaves
# __stack_pointer wherever the failure happened: nothing unwinds the shadow stack. The
# host libraries therefore bracket every plain call with these two hooks, the role of
# Emscripten's stackSave/stackRestore (the stack pointer itself is not exported).
#
#   i32 jspi_call_enter(void): right before a plain call; returns a token (the stack
#   pointer the call starts with).
        .section .text.jspi_call_enter,"",@
        .globl jspi_call_enter
        .export_name jspi_call_enter, jspi_call_enter     # exported by any link that pulls this file in
        .type jspi_call_enter,@function
jspi_call_enter:
        .functype jspi_call_enter () -> (i32)
        i32.const jspi_plain_calls      # where the count goes
        i32.const jspi_plain_calls
        i32.load 0                      # plain calls running
        i32.const 1
        i32.add
        i32.store 0                     # one more: a task entered now is nested in it
        global.get __stack_pointer      # the token is the stack pointer itself
        end_function

#   void jspi_call_leave(i32 token): right after the plain call returned or failed;
#   puts the stack pointer back. A token outside the shadow stack is refused.
        .section .text.jspi_call_leave,"",@
        .globl jspi_call_leave
        .export_name jspi_call_leave, jspi_call_leave     # exported by any link that pulls this file in
        .type jspi_call_leave,@function
jspi_call_leave:
        .functype jspi_call_leave (i32) -> ()
        .local i32                      # 1: plain calls running
        i32.const jspi_plain_calls
        i32.load 0
        local.tee 1                     # plain calls running
        if                              # one fewer (never below 0, whatever the host does)
        i32.const jspi_plain_calls
        local.get 1
        i32.const 1
        i32.sub
        i32.store 0
        end_if
        local.get 0
        i32.const __stack_low
        i32.lt_u                        # below the shadow stack?
        local.get 0
        i32.const __stack_high
        i32.gt_u                        # above it?
        i32.or
        if                              # not a token jspi_call_enter gave: fail
        call jspi_fail_bad_call_token   # never returns
        unreachable
        end_if
        local.get 0
        global.set __stack_pointer      # where the call started
        end_function

#   void jspi_task_top(void): the host is at its top level (no guest frames of this
#   instance on any running stack), as when a pooled worker resumes from the host's
#   event loop to take its next task: whatever died without its hooks yet (a task that
#   trapped in a segment whose leave or done is still to come) is dropped, and the
#   stack pointer goes where a task entered from the top level expects it.
        .section .text.jspi_task_top,"",@
        .globl jspi_task_top
        .export_name jspi_task_top, jspi_task_top         # exported by any link that pulls this file in
        .type jspi_task_top,@function
jspi_task_top:
        .functype jspi_task_top () -> ()
        .local i32, i64                 # 0: sp on entry, 1: result
        i32.const jspi_plain_calls
        i32.const 0
        i32.store 0                     # at the top level no plain call is running
        global.get __stack_pointer
        local.set 0
        i32.const jspi_scratch+16384
        global.set __stack_pointer
        call jspi_rs_top                # (1 << 32) | sp to set, or 0 to keep
        local.set 1
        local.get 1
        i64.const 32
        i64.shr_u
        i64.eqz
        if                              # nothing to change: the sp we came with
        local.get 0
        global.set __stack_pointer
        else                            # the sp the Rust side asks for
        local.get 1
        i32.wrap_i64
        global.set __stack_pointer
        end_if
        end_function

# Task memory, for hosts (guest/stack-state/src/taskmem.rs). These only read the
# state, so the Rust side runs on the caller's stack.
#
#   i64 jspi_task_locate(i32 id, i32 addr): (where << 32) | run: the byte at `addr` of
#   task `id` is at `where` now (in place, or in the task's saved block), and `run`
#   bytes from it lie in the same place. Fails for a task that ended or never was.
        .section .text.jspi_task_locate,"",@
        .globl jspi_task_locate
        .export_name jspi_task_locate, jspi_task_locate   # exported by any link that pulls this file in
        .type jspi_task_locate,@function
jspi_task_locate:
        .functype jspi_task_locate (i32, i32) -> (i64)
        .local i64                      # 2: result
        local.get 0
        local.get 1
        call jspi_rs_locate             # packed, or all ones for an error
        local.tee 2
        i64.const -1
        i64.eq
        if                              # no such task: fail with the recorded message
        call jspi_fail_last
        end_if
        local.get 2
        end_function

#   i32 jspi_task_current(void): the running task's id, 0 outside any task (for a host
#   function that needs to know which task called it).
        .section .text.jspi_task_current,"",@
        .globl jspi_task_current
        .export_name jspi_task_current, jspi_task_current # exported by any link that pulls this file in
        .type jspi_task_current,@function
jspi_task_current:
        .functype jspi_task_current () -> (i32)
        call jspi_rs_current
        end_function

# externref jspi_raw_await(externref promise): suspend the running task until the
# promise settles. Saves the task's stack state before, makes it whole after, both
# on the task's own stack: nothing else runs between the resume and the restore.
        .section .text.jspi_raw_await,"",@
        .globl jspi_raw_await
        .type jspi_raw_await,@function
jspi_raw_await:
        .functype jspi_raw_await (externref) -> (externref)
        .local i32, i64, i32, externref # 1: sp, 2: result, 3: task id, 4: settled value
        global.get __stack_pointer
        local.set 1                     # the task's sp: the low end of its range
        i32.const jspi_scratch+16384
        global.set __stack_pointer
        local.get 1
        call jspi_rs_suspend            # (id << 32) | sp for the host; id 0 = error
        local.set 2
        local.get 2
        i64.const 32
        i64.shr_u
        i32.wrap_i64
        local.tee 3                     # the task id, kept on the native stack
        i32.eqz
        if                              # cannot suspend: restore and throw
        local.get 1
        global.set __stack_pointer
        call jspi_fail_last
        end_if
        local.get 2
        i32.wrap_i64
        global.set __stack_pointer      # what the host and other tasks run with
        local.get 0
        call jspi_host_await            # suspends; returns once the promise settled
        local.set 4
        global.get __stack_pointer
        local.set 1                     # the host's sp at the resume
        i32.const jspi_scratch+16384
        global.set __stack_pointer
        local.get 3
        local.get 1
        call jspi_rs_resume             # (1 << 32) | the task's sp; 0 = error
        local.set 2
        local.get 2
        i64.const 32
        i64.shr_u
        i64.eqz
        if                              # the task cannot run: fail it
        local.get 1
        global.set __stack_pointer
        call jspi_fail_last
        end_if
        local.get 2
        i32.wrap_i64
        global.set __stack_pointer      # back where the task suspended
        local.get 4
        end_function

# void jspi_shim_copy(u32 dst, u32 src, u32 len): memory.copy, for the Rust side, which
# must not form pointers to address 0 (the shadow stack starts there).
        .section .text.jspi_shim_copy,"",@
        .globl jspi_shim_copy
        .type jspi_shim_copy,@function
jspi_shim_copy:
        .functype jspi_shim_copy (i32, i32, i32) -> ()
        local.get 0
        local.get 1
        local.get 2
        memory.copy 0, 0
        end_function
