/*
 * The environment of a `command` platform's program (command_env.h).
 */
#include "publish/command_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_value.h"
#include "util/banned.h"

extern char **environ;

#define COMMAND_ENV_MAX_NAMES 64
#define COMMAND_ENV_NAME_MAX 128

/*
 * Passed to every program: what a shell and its tools expect to find,
 * with the locale categories of POSIX and glibc by name, so that a
 * secret in a variable such as LC_TOKEN is not passed.
 */
static const char *const base_names[] = {
    "PATH",        "HOME",           "USER",       "LOGNAME",
    "SHELL",       "LANG",           "LANGUAGE",   "TZ",
    "TMPDIR",      "LC_ALL",         "LC_COLLATE", "LC_CTYPE",
    "LC_MESSAGES", "LC_MONETARY",    "LC_NUMERIC", "LC_TIME",
    "LC_ADDRESS",  "LC_IDENTIFICATION", "LC_MEASUREMENT", "LC_NAME",
    "LC_PAPER",    "LC_TELEPHONE",   NULL,
};

static int is_env_name(const char *name, size_t len)
{
    char copy[COMMAND_ENV_NAME_MAX];

    if (len >= sizeof copy)
        return 0;
    memcpy(copy, name, len);
    copy[len] = '\0';
    return config_is_env_name(copy);
}

/* Whether `var` ("NAME=VALUE") has the name name[0..len). */
static int has_name(const char *var, const char *name, size_t len)
{
    return strncmp(var, name, len) == 0 && var[len] == '=';
}

static int is_base_name(const char *var)
{
    for (size_t i = 0; base_names[i] != NULL; i++)
        if (has_name(var, base_names[i], strlen(base_names[i])))
            return 1;
    return 0;
}

/*
 * Whether `var` has one of the names in `names`, the pass_environment
 * option's text: a list separated by spaces, tabs or commas, which
 * check_pass_environment checked.
 */
static int is_passed_name(const char *var, const char *names)
{
    const char *p = names;

    while (p != NULL && *p != '\0') {
        size_t skip = strspn(p, " \t,");
        size_t len;

        p += skip;
        len = strcspn(p, " \t,");
        if (len > 0 && has_name(var, p, len))
            return 1;
        p += len;
    }
    return 0;
}

static int check_pass_environment(const struct platform_config *platform,
                                  const char *names, char *err,
                                  size_t errlen)
{
    const char *p = names;
    int count = 0;

    while (*p != '\0') {
        size_t len;

        p += strspn(p, " \t,");
        len = strcspn(p, " \t,");
        if (len == 0)
            break;
        if (!is_env_name(p, len)) {
            snprintf(err, errlen,
                     "invalid variable name \"%.*s\" in pass_environment of "
                     "command platform \"%s\": use letters, digits and "
                     "_, not starting with a digit",
                     (int)len, p, platform->name);
            return -1;
        }
        if (++count > COMMAND_ENV_MAX_NAMES) {
            snprintf(err, errlen,
                     "too many names in pass_environment of command platform "
                     "\"%s\": at most %d are supported",
                     platform->name, COMMAND_ENV_MAX_NAMES);
            return -1;
        }
        p += len;
    }
    return 0;
}

int command_env_build(const struct platform_config *platform, char ***env,
                      char *err, size_t errlen)
{
    const char *names = platform_config_option(platform, "pass_environment");
    size_t total = 0;
    size_t count = 0;
    char **list;

    if (names != NULL &&
        check_pass_environment(platform, names, err, errlen) != 0)
        return -1;

    for (char **var = environ; *var != NULL; var++)
        total++;
    list = calloc(total + 1, sizeof *list);
    if (list == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    for (char **var = environ; *var != NULL; var++) {
        if (!is_base_name(*var) && !is_passed_name(*var, names))
            continue;
        list[count] = strdup(*var);
        if (list[count] == NULL) {
            command_env_free(list);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        count++;
    }
    *env = list;
    return 0;
}

void command_env_free(char **env)
{
    if (env == NULL)
        return;
    for (size_t i = 0; env[i] != NULL; i++)
        free(env[i]);
    free(env);
}
