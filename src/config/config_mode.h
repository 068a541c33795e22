/*
 * The permission check of the configuration file: a file that names the
 * variables holding secrets must not be writable by other users.
 */
#ifndef PUBQ_CONFIG_MODE_H
#define PUBQ_CONFIG_MODE_H

#include <stddef.h>

#include "config/config.h"

/*
 * Returns 0 when the file at `path` is not writable by others (mode
 * o+w) or `config`, parsed from it, names no secret variable (neither
 * api_token_env nor any platform option ending in "_env"). Otherwise
 * returns -1 with a message in err that names the file, its mode, the
 * option and the fix `chmod o-w FILE`; also -1 when the file cannot be
 * examined.
 */
int config_check_file_mode(const char *path, const struct pubq_config *config,
                           char *err, size_t errlen);

#endif
