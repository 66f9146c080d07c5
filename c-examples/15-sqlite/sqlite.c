/* SQLite itself (the amalgamation, fetched by cargo: packages/Cargo.toml), compiled
 * with this example's options:
 * - no threads, no extensions loaded at run time;
 * - SQLITE_OS_OTHER: no built-in VFS (no POSIX files, which WASI has only in part);
 *   vfs.c registers the only one, whose files live in the host behind promises;
 * - temporary tables and statement journals in memory, so no file is ever opened
 *   without a name. */
#define SQLITE_THREADSAFE 0
#define SQLITE_OMIT_LOAD_EXTENSION 1
#define SQLITE_OS_OTHER 1
#define SQLITE_TEMP_STORE 3
#define SQLITE_OMIT_WAL 1
#define SQLITE_DQS 0
#define SQLITE_DEFAULT_MEMSTATUS 0

#include "sqlite3/sqlite3.c"
