/*
 * The PostgreSQL back end of the storage interface: several pubq
 * processes on several machines share one database. Claims skip rows
 * that another node has locked, wake-ups travel by LISTEN/NOTIFY, and
 * the sweeper runs once per cron tick across all nodes.
 */
#ifndef PUBQ_STORE_PG_H
#define PUBQ_STORE_PG_H

#include <stddef.h>

#include "store/store.h"

/*
 * Connects to the database named by a libpq URL ("postgres://..." or
 * "postgresql://...") and sets *out. Does not migrate. Returns STORE_OK,
 * or a negative store result with a message in err and *out untouched;
 * the message never repeats the URL or its password. store_close()
 * frees the store.
 *
 * The store owns one connection. It is used by one thread at a time,
 * and after the first wake_fd() call the same connection also listens
 * for wake-ups, so the process that polls wake_fd() must use this store
 * for its own operations too.
 */
int store_pg_open(const char *url, struct store **out, char *err,
                  size_t errlen);

#endif
