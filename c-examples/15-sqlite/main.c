/* 15-sqlite: many SQLite connections in one instance, each a task, all at once.
 *
 * Every connection runs in its own task and blocks on its async VFS (vfs.c) in the
 * middle of SQLite's own C frames; while it waits, the other connections run over
 * the same shadow stack. The guest library keeps each task's frames apart, so the
 * connections need no mutex around them: 4 on files of their own, then 16 on one
 * shared file, where SQLite's own locking (in vfs.c) and a busy handler that awaits
 * take turns. Without the library (strategy none) the same program fails in ways
 * that change from build to build: README.md. */
#include <stdio.h>
#include <string.h>

#include "jspi_host.h"
#include "sqlite3/sqlite3.h"

/* SQLite's frames between two awaits stay well inside 32 KiB; the default room below
 * a task under lazy (16 KiB, jspi.h) is less than a generous guess at them. */
JSPI_MIN_TASK_STACK(32 * 1024);

/* Waits 1 ms of host time when another connection holds the lock SQLite needs, so
 * that connection can move on: the await suspends this task, SQLite's frames and
 * all, in the middle of sqlite3_step. */
static int busy(void *waits, int tries) {
    (void)tries;
    ++*(int *)waits;
    jspi_sleep(1);
    return 1;
}

static sqlite3 *open_db(int file, int *waits) {
    char name[32];
    snprintf(name, sizeof name, file == 0 ? "shared.db" : "own-%d.db", file);
    sqlite3 *db = 0;
    int rc = sqlite3_open_v2(name, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "async");
    if (rc != SQLITE_OK) {
        printf("open %s: %s\n", name, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return 0;
    }
    sqlite3_busy_handler(db, busy, waits);
    return db;
}

/* Runs `sql`; prints what failed, if anything. */
static int run(sqlite3 *db, int conn, const char *sql) {
    char *error = 0;
    int rc = sqlite3_exec(db, sql, 0, 0, &error);
    if (rc != SQLITE_OK) printf("conn %d: %s: %s\n", conn, sql, error ? error : sqlite3_errstr(rc));
    sqlite3_free(error);
    return rc;
}

/* Connection `conn` on `file` (0: the shared one): `txns` transactions of `rows`
 * inserts each, then its own rows counted and summed, against what it inserted. */
JSPI_EXPORT("connection")
int connection(int conn, int file, int txns, int rows) {
    int waits = 0;
    sqlite3 *db = open_db(file, &waits);
    if (!db) return -1;
    int failed = run(db, conn, "CREATE TABLE IF NOT EXISTS t(conn INTEGER, v INTEGER)");
    sqlite3_stmt *insert = 0;
    if (!failed) {
        failed = sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?1, ?2)", -1, &insert, 0);
    }
    long long expected = 0;
    for (int k = 0; k < txns && !failed; k++) {
        failed = run(db, conn, "BEGIN IMMEDIATE");
        for (int r = 0; r < rows && !failed; r++) {
            long long v = conn * 1000000LL + k * rows + r;
            expected += v;
            sqlite3_bind_int(insert, 1, conn);
            sqlite3_bind_int64(insert, 2, v);
            if (sqlite3_step(insert) != SQLITE_DONE) {
                printf("conn %d: insert: %s\n", conn, sqlite3_errmsg(db));
                failed = 1;
            }
            sqlite3_reset(insert);
        }
        if (!failed) failed = run(db, conn, "COMMIT");
        /* Time to think between transactions: the lock is free, and the
         * connections waiting in their busy handlers take turns with it. */
        jspi_sleep(2);
    }
    sqlite3_finalize(insert);
    sqlite3_stmt *count = 0;
    if (!failed &&
        sqlite3_prepare_v2(db, "SELECT count(*), total(v) FROM t WHERE conn = ?1", -1, &count, 0) ==
            SQLITE_OK) {
        sqlite3_bind_int(count, 1, conn);
        if (sqlite3_step(count) == SQLITE_ROW) {
            int n = sqlite3_column_int(count, 0);
            long long sum = (long long)sqlite3_column_double(count, 1);
            int right = n == txns * rows && sum == expected;
            printf("conn %d: %d rows, sum %lld: %s (%d busy waits)\n", conn, n, sum,
                   right ? "as inserted" : "WRONG", waits);
            failed = !right;
        } else {
            printf("conn %d: count: %s\n", conn, sqlite3_errmsg(db));
            failed = 1;
        }
    }
    sqlite3_finalize(count);
    sqlite3_close(db);
    return failed ? -1 : 0;
}

static int print_row(void *label, int columns, char **values, char **names) {
    (void)names;
    printf("%s:", (const char *)label);
    for (int i = 0; i < columns; i++) printf(" %s", values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}

/* The whole file checked: SQLite's integrity check, then rows and connections. */
JSPI_EXPORT("check")
int check(int file) {
    int waits = 0;
    sqlite3 *db = open_db(file, &waits);
    if (!db) return -1;
    char *error = 0;
    char label[32];
    snprintf(label, sizeof label, "check %d", file);
    int rc = sqlite3_exec(db,
                          "PRAGMA integrity_check;"
                          "SELECT count(*), count(DISTINCT conn), total(v) FROM t",
                          print_row, label, &error);
    if (rc != SQLITE_OK) printf("%s: %s\n", label, error ? error : sqlite3_errstr(rc));
    sqlite3_free(error);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* The benchmark's connection (cargo xtask bench --sqlite): `queries` inserts on file
 * `file`, each its own transaction (journal written, synced, deleted: a dozen
 * awaits), with nothing printed. */
JSPI_EXPORT("bench")
int bench(int conn, int file, int queries) {
    int waits = 0;
    sqlite3 *db = open_db(file, &waits);
    if (!db) return -1;
    sqlite3_stmt *insert = 0;
    int failed = run(db, conn, "CREATE TABLE IF NOT EXISTS t(conn INTEGER, v INTEGER)") ||
                 sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?1, ?2)", -1, &insert, 0);
    for (int q = 0; q < queries && !failed; q++) {
        sqlite3_bind_int(insert, 1, conn);
        sqlite3_bind_int(insert, 2, q);
        failed = sqlite3_step(insert) != SQLITE_DONE;
        sqlite3_reset(insert);
    }
    if (failed) printf("conn %d: %s\n", conn, sqlite3_errmsg(db));
    sqlite3_finalize(insert);
    sqlite3_close(db);
    return failed ? -1 : 0;
}

/* The library's counters, for the benchmark. */
JSPI_EXPORT("stats")
void stats(void) {
    jspi_log_stats("stats");
}
