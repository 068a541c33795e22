#include "config/config_mode.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config_value.h"
#include "util/banned.h"

/* Returns the first option that names a secret variable, or NULL. */
static const char *secret_option(const struct pubq_config *config)
{
    if (config->api_token_env != NULL)
        return "api_token_env";
    for (size_t i = 0; i < config->platform_count; i++) {
        const struct platform_config *platform = &config->platforms[i];

        for (size_t k = 0; k < platform->option_count; k++) {
            if (config_is_env_key(platform->options[k].key))
                return platform->options[k].key;
        }
    }
    return NULL;
}

/*
 * The file decides where the secrets go (the URL next to a token, the
 * webhook that gets the signing key, the program that runs), so a user
 * who may write it could send them to a server of their own.
 * NOTE: the mode is read after parsing, by path; a file swapped in
 * between is not seen, but swapping it needs write access to the
 * directory, which this check does not cover.
 */
int config_check_file_mode(const char *path, const struct pubq_config *config,
                           char *err, size_t errlen)
{
    const char *option = secret_option(config);
    struct stat info;
    unsigned mode;

    if (option == NULL)
        return 0;
    if (stat(path, &info) != 0) {
        snprintf(err, errlen, "%s: failed to read the file mode: %s", path,
                 strerror(errno));
        return -1;
    }
    if ((info.st_mode & S_IWOTH) == 0)
        return 0;

    mode = (unsigned)(info.st_mode & 07777);
    snprintf(err, errlen,
             "%s: file mode %04o lets other users write it, and it names a "
             "secret variable (%s) whose secret it could send elsewhere; run "
             "chmod o-w %s",
             path, mode, option, path);
    return -1;
}
