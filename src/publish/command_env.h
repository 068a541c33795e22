/*
 * The environment a `command` platform's program runs with: a few
 * variables every program expects (PATH, HOME, the locale, ...) and the
 * ones the platform's `pass_environment` option names, copied from
 * pubq's environment at start-up. Everything else stays out, so the variables
 * that hold other platforms' secrets never reach the program.
 *
 *   char **env;
 *   if (command_env_build(platform, &env, err, sizeof err) != 0)
 *       return -1;
 *   posix_spawn(..., env);
 *   command_env_free(env);
 */
#ifndef PUBQ_COMMAND_ENV_H
#define PUBQ_COMMAND_ENV_H

#include <stddef.h>

#include "config/config.h"

/*
 * Sets *env to a NULL-terminated array of "NAME=VALUE" strings. Returns
 * 0, or -1 with a message naming the bad `pass_environment` name and
 * the fix.
 */
int command_env_build(const struct platform_config *platform, char ***env,
                      char *err, size_t errlen);

void command_env_free(char **env);

#endif
