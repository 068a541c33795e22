/*
 * Wake-ups for the SQLite store: other processes (the CLI, an HTTP
 * server of another daemon) write new work into the same database file,
 * and every commit in WAL mode writes the -wal file. An inotify watch on
 * that file turns those writes into a readable descriptor the engine
 * polls, so new due work is seen at once instead of at the next poll.
 * Linux only; where inotify fails the engine falls back to its poll.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "store/sqlite_internal.h"
#include "util/log.h"

#include "util/banned.h"

static int open_watch(struct sqlite_store *s)
{
    const char *db_path = sqlite3_db_filename(s->db, "main");
    char wal_path[4096];
    int fd;

    if (db_path == NULL || db_path[0] == '\0')
        return -1;
    snprintf(wal_path, sizeof wal_path, "%s-wal", db_path);

    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        log_warn("store", "no wake-ups from other processes: inotify: %s",
                 strerror(errno));
        return -1;
    }
    if (inotify_add_watch(fd, wal_path, IN_MODIFY) < 0) {
        log_warn("store", "no wake-ups from other processes: watching %s: "
                 "%s", wal_path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int sqlite_wake_fd(struct store *store)
{
    struct sqlite_store *s = sqlite_store_of(store);

    if (s->wake_fd == SQLITE_WAKE_UNOPENED)
        s->wake_fd = open_watch(s);
    return s->wake_fd;
}

int sqlite_consume_wakeups(struct store *store)
{
    struct sqlite_store *s = sqlite_store_of(store);
    char events[4096];
    ssize_t got;
    int count = 0;

    if (s->wake_fd < 0)
        return 0;
    while ((got = read(s->wake_fd, events, sizeof events)) > 0)
        count += (int)(got / (ssize_t)sizeof(struct inotify_event));
    return count;
}

void sqlite_wake_close(struct sqlite_store *s)
{
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    s->wake_fd = SQLITE_WAKE_UNOPENED;
}
