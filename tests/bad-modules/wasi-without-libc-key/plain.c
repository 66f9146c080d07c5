/* A module that imports WASI (as one built against wasi-libc does) run with a
 * scenario that does not say `"libc": "wasi"`. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_exit"))) void
proc_exit(int code);

__attribute__((export_name("run"))) void run(void) {
    proc_exit(0);
}
