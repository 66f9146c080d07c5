/* An async VFS for SQLite: the files live in the host, and every read, write, sync,
 * truncate, size and delete is a promise that the calling task awaits, so other
 * connections (tasks) of the same instance run while it waits.
 *
 * - xRead awaits bytes straight into SQLite's buffer (jspi_await_bytes): the host
 *   gives the bytes, the library copies them in after the task is back on its stack,
 *   wherever that buffer is (a page in the heap, a header on the shadow stack);
 * - xWrite hands the host the bytes at the call (the host copies them before it
 *   returns the promise), then awaits the promise;
 * - locking is real, across the connections of the instance: SQLite's five levels
 *   (none, shared, reserved, pending, exclusive) kept per file name here, in the
 *   instance's memory, as the unix VFS keeps them per inode for the connections of
 *   one process. A connection that cannot take a lock gets SQLITE_BUSY, and its
 *   busy handler (main.c) awaits, so the connection holding the lock can move on.
 *
 * The host's side is `env.file_*` (docs/abi.md, "Host environment"). */
#include <stdint.h>
#include <string.h>

#include "jspi_host.h"
#include "sqlite3/sqlite3.h"

JSPI_IMPORT("env", "file_open") int32_t host_file_open(const char *name, int32_t create);
JSPI_IMPORT("env", "file_exists") int32_t host_file_exists(const char *name);
JSPI_IMPORT("env", "file_read") __externref_t host_file_read(int32_t file, int64_t offset, int32_t len);
JSPI_IMPORT("env", "file_write") __externref_t host_file_write(int32_t file, const void *src, int32_t len, int64_t offset);
JSPI_IMPORT("env", "file_truncate") __externref_t host_file_truncate(int32_t file, int64_t size);
JSPI_IMPORT("env", "file_sync") __externref_t host_file_sync(int32_t file);
JSPI_IMPORT("env", "file_size") __externref_t host_file_size(int32_t file);
JSPI_IMPORT("env", "file_delete") __externref_t host_file_delete(const char *name);

/* What the connections of this instance share about one file name: its lock. */
struct node {
    struct node *next;
    char *name;
    int shared;                  /* connections holding at least SHARED */
    const void *reserved;        /* the one holding RESERVED or more, or 0 */
    const void *pending;         /* the one holding PENDING or more, or 0 */
    const void *exclusive;       /* the one holding EXCLUSIVE, or 0 */
};

static struct node *nodes;

/* One open file of one connection. */
struct file {
    sqlite3_file base;
    int32_t id;                  /* the host's file */
    int lock;                    /* SQLITE_LOCK_NONE .. SQLITE_LOCK_EXCLUSIVE */
    int delete_on_close;
    struct node *node;
};

static struct node *node_for(const char *name) {
    for (struct node *n = nodes; n; n = n->next) {
        if (strcmp(n->name, name) == 0) return n;
    }
    struct node *n = sqlite3_malloc(sizeof *n);
    if (!n) return 0;
    memset(n, 0, sizeof *n);
    n->name = sqlite3_mprintf("%s", name);
    if (!n->name) {
        sqlite3_free(n);
        return 0;
    }
    n->next = nodes;
    nodes = n;
    return n;
}

static int vfs_close(sqlite3_file *base) {
    struct file *f = (struct file *)base;
    if (f->delete_on_close) jspi_await_int(host_file_delete(f->node->name));
    return SQLITE_OK;
}

static int vfs_read(sqlite3_file *base, void *buf, int amount, sqlite3_int64 offset) {
    struct file *f = (struct file *)base;
    int got = jspi_await_bytes(host_file_read(f->id, offset, amount), buf, (uint32_t)amount);
    if (got < amount) {
        memset((char *)buf + got, 0, (size_t)(amount - got));
        return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
}

static int vfs_write(sqlite3_file *base, const void *buf, int amount, sqlite3_int64 offset) {
    struct file *f = (struct file *)base;
    return jspi_await_int(host_file_write(f->id, buf, amount, offset)) == amount ? SQLITE_OK
                                                                                 : SQLITE_IOERR_WRITE;
}

static int vfs_truncate(sqlite3_file *base, sqlite3_int64 size) {
    struct file *f = (struct file *)base;
    jspi_await_int(host_file_truncate(f->id, size));
    return SQLITE_OK;
}

static int vfs_sync(sqlite3_file *base, int flags) {
    (void)flags;
    struct file *f = (struct file *)base;
    jspi_await_int(host_file_sync(f->id));
    return SQLITE_OK;
}

static int vfs_file_size(sqlite3_file *base, sqlite3_int64 *size) {
    struct file *f = (struct file *)base;
    *size = jspi_await_int(host_file_size(f->id));
    return SQLITE_OK;
}

/* Takes `level` (SHARED, RESERVED or EXCLUSIVE; PENDING on the way to EXCLUSIVE) or
 * says SQLITE_BUSY, as the unix VFS does between the connections of a process. */
static int vfs_lock(sqlite3_file *base, int level) {
    struct file *f = (struct file *)base;
    struct node *n = f->node;
    if (f->lock >= level) return SQLITE_OK;
    if (level == SQLITE_LOCK_SHARED) {
        if (n->pending || n->exclusive) return SQLITE_BUSY;
        n->shared++;
        f->lock = SQLITE_LOCK_SHARED;
        return SQLITE_OK;
    }
    if (level == SQLITE_LOCK_RESERVED) {
        if (f->lock != SQLITE_LOCK_SHARED) return SQLITE_MISUSE;
        if (n->reserved && n->reserved != f) return SQLITE_BUSY;
        n->reserved = f;
        f->lock = SQLITE_LOCK_RESERVED;
        return SQLITE_OK;
    }
    /* EXCLUSIVE: first PENDING (no new SHARED locks), then wait for the others'
     * SHARED locks to go. */
    if (f->lock < SQLITE_LOCK_SHARED) return SQLITE_MISUSE;
    if (n->pending && n->pending != f) return SQLITE_BUSY;
    if (n->reserved && n->reserved != f) return SQLITE_BUSY;
    n->reserved = f;
    n->pending = f;
    f->lock = SQLITE_LOCK_PENDING;
    if (n->shared > 1) return SQLITE_BUSY;
    n->exclusive = f;
    f->lock = SQLITE_LOCK_EXCLUSIVE;
    return SQLITE_OK;
}

static int vfs_unlock(sqlite3_file *base, int level) {
    struct file *f = (struct file *)base;
    struct node *n = f->node;
    if (f->lock <= level) return SQLITE_OK;
    if (n->exclusive == f) n->exclusive = 0;
    if (n->pending == f) n->pending = 0;
    if (level < SQLITE_LOCK_RESERVED && n->reserved == f) n->reserved = 0;
    if (level == SQLITE_LOCK_NONE && f->lock >= SQLITE_LOCK_SHARED) n->shared--;
    f->lock = level;
    return SQLITE_OK;
}

static int vfs_check_reserved(sqlite3_file *base, int *out) {
    struct file *f = (struct file *)base;
    *out = f->node->reserved != 0;
    return SQLITE_OK;
}

static int vfs_file_control(sqlite3_file *base, int op, void *arg) {
    (void)base, (void)op, (void)arg;
    return SQLITE_NOTFOUND;
}

static int vfs_sector_size(sqlite3_file *base) {
    (void)base;
    return 4096;
}

static int vfs_device_characteristics(sqlite3_file *base) {
    (void)base;
    return 0;
}

static const sqlite3_io_methods io_methods = {
    .iVersion = 1,
    .xClose = vfs_close,
    .xRead = vfs_read,
    .xWrite = vfs_write,
    .xTruncate = vfs_truncate,
    .xSync = vfs_sync,
    .xFileSize = vfs_file_size,
    .xLock = vfs_lock,
    .xUnlock = vfs_unlock,
    .xCheckReservedLock = vfs_check_reserved,
    .xFileControl = vfs_file_control,
    .xSectorSize = vfs_sector_size,
    .xDeviceCharacteristics = vfs_device_characteristics,
};

static int vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *base, int flags,
                    int *out_flags) {
    (void)vfs;
    static int temporaries;
    struct file *f = (struct file *)base;
    memset(f, 0, sizeof *f);
    char temporary[32];
    if (!name) {
        sqlite3_snprintf(sizeof temporary, temporary, "temporary-%d", ++temporaries);
        name = temporary;
    }
    f->node = node_for(name);
    if (!f->node) return SQLITE_NOMEM;
    f->id = host_file_open(name, (flags & SQLITE_OPEN_CREATE) != 0);
    if (f->id < 0) return SQLITE_CANTOPEN;
    f->delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
    f->base.pMethods = &io_methods;
    if (out_flags) *out_flags = flags;
    return SQLITE_OK;
}

static int vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
    (void)vfs, (void)sync_dir;
    return jspi_await_int(host_file_delete(name)) == 0 ? SQLITE_OK : SQLITE_IOERR_DELETE_NOENT;
}

static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs, (void)flags;
    *out = host_file_exists(name);
    return SQLITE_OK;
}

static int vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
    (void)vfs;
    sqlite3_snprintf(size, out, "%s", name);
    return SQLITE_OK;
}

/* The same bytes in every run: the transcripts must not depend on chance. */
static int vfs_randomness(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    for (int i = 0; i < size; i++) out[i] = (char)(i * 37 + 11);
    return size;
}

static int vfs_sleep(sqlite3_vfs *vfs, int microseconds) {
    (void)vfs;
    if (jspi_can_suspend()) jspi_sleep((microseconds + 999) / 1000);
    return microseconds;
}

/* A fixed now (2026-01-01 00:00 UTC as a Julian day number in milliseconds): the
 * transcripts must not depend on the time either. */
static int vfs_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    *out = (sqlite3_int64)2461041.5 * 86400000;
    return SQLITE_OK;
}

static int vfs_current_time(sqlite3_vfs *vfs, double *out) {
    sqlite3_int64 ms;
    vfs_current_time_int64(vfs, &ms);
    *out = ms / 86400000.0;
    return SQLITE_OK;
}

static int vfs_last_error(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    if (size > 0) out[0] = 0;
    return 0;
}

static sqlite3_vfs async_vfs = {
    .iVersion = 2,
    .szOsFile = sizeof(struct file),
    .mxPathname = 512,
    .zName = "async",
    .xOpen = vfs_open,
    .xDelete = vfs_delete,
    .xAccess = vfs_access,
    .xFullPathname = vfs_full_pathname,
    .xRandomness = vfs_randomness,
    .xSleep = vfs_sleep,
    .xCurrentTime = vfs_current_time,
    .xGetLastError = vfs_last_error,
    .xCurrentTimeInt64 = vfs_current_time_int64,
};

/* SQLITE_OS_OTHER: SQLite calls these from sqlite3_initialize and sqlite3_shutdown. */
int sqlite3_os_init(void) {
    return sqlite3_vfs_register(&async_vfs, 1);
}

int sqlite3_os_end(void) {
    return SQLITE_OK;
}
