/*
 * The SQLite back end of the storage interface: one database file in WAL
 * mode, shared safely by several processes on one machine.
 */
#ifndef PUBQ_STORE_SQLITE_H
#define PUBQ_STORE_SQLITE_H

#include <stddef.h>

#include "store/store.h"

/*
 * Opens the SQLite database at `url` (creating it when `create` is set,
 * else STORE_INVALID when the file does not exist), a file path
 * with optional parameters after "?" (only synchronous=full, the
 * default, or synchronous=normal), and sets *out. Does not migrate. The
 * parameters follow the last "?", so a path that contains "?" needs one
 * more: "a?b.db?".
 * Returns STORE_OK, or a negative store result (STORE_INVALID for an
 * unknown parameter) with a message in err and *out untouched.
 * store_close() frees the store.
 */
int store_sqlite_open(const char *url, int create, struct store **out,
                      char *err, size_t errlen);

#endif
