/*
 * The shared state of one pubq run: configuration, default time zone and
 * store, each opened on first use. Also the error reporting that every
 * command uses.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/timestamp.h"
#include "publish/adapter.h"

#include "util/banned.h"

#define DEFAULT_CONFIG_PATH "pubq.conf"

void cli_free(struct cli *cli)
{
    store_close(cli->store);
    cli->store = NULL;

    zone_free(cli->default_zone);
    cli->default_zone = NULL;

    if (cli->config_loaded)
        config_free(&cli->config);
    cli->config_loaded = 0;

    if (cli->remote_config_loaded)
        config_free(&cli->remote_config);
    cli->remote_config_loaded = 0;
}

void cli_error(const char *fmt, ...)
{
    char message[2048];
    va_list args;

    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);

    fprintf(stderr, "pubq: %s\n", message);
}

int cli_usage_error(const struct cli_command *command, const char *fmt, ...)
{
    char message[1024];
    va_list args;

    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);

    if (command->name[0] == '\0')
        fprintf(stderr, "pubq: %s; run 'pubq --help' for usage\n", message);
    else
        fprintf(stderr, "pubq: %s; run 'pubq %s --help' for usage\n", message,
                command->name);
    return CLI_USAGE;
}

static int load_default_zone(struct cli *cli)
{
    char err[512];

    if (cli->config.default_zone == NULL)
        return CLI_OK;

    cli->default_zone = zone_load(cli->config.default_zone, err, sizeof err);
    if (cli->default_zone == NULL) {
        cli_error("%s", err);
        return CLI_FAILED;
    }
    return CLI_OK;
}

int cli_load_config(struct cli *cli)
{
    const char *path = cli->config_path;
    char err[CONFIG_ERR_MAX];

    if (cli->config_loaded)
        return CLI_OK;

    if (path == NULL && access(DEFAULT_CONFIG_PATH, F_OK) == 0)
        path = DEFAULT_CONFIG_PATH;

    if (path != NULL) {
        if (config_load(path, &cli->config, err, sizeof err) != 0) {
            cli_error("%s", err);
            return CLI_FAILED;
        }
    } else if (config_init_defaults(&cli->config) != 0) {
        cli_error("cannot set up the default configuration: out of memory");
        return CLI_FAILED;
    }
    cli->config_loaded = 1;

    /* Every command, not only serve, rejects an option that its adapter
     * does not accept, so a typo cannot pass migrate or list and fail
     * the start later. */
    if (adapter_check_all_option_names(&cli->config, err, sizeof err) != 0) {
        cli_error("%s", err);
        return CLI_FAILED;
    }

    return load_default_zone(cli);
}

void cli_redact_url(const char *url, char *out, size_t size)
{
    const char *scheme_end = strstr(url, "://");
    const char *authority = scheme_end != NULL ? scheme_end + 3 : NULL;
    const char *at = NULL;
    const char *colon = NULL;

    /* The user info ends at the last "@" before the path, query or
     * fragment, so an "@" later in the URL is not taken for it. */
    if (authority != NULL) {
        size_t len = strcspn(authority, "/?#");

        for (size_t i = 0; i < len; i++)
            if (authority[i] == '@')
                at = authority + i;
    }
    if (at != NULL)
        colon = memchr(authority, ':', (size_t)(at - authority));

    if (colon == NULL) {
        snprintf(out, size, "%s", url);
        return;
    }
    snprintf(out, size, "%.*s:***%s", (int)(colon - url), url, at);
}

/*
 * Returns the database URL of this run: --database or $PUBQ_DATABASE,
 * else url in [database]. Prints the error and returns NULL when that
 * URL is empty.
 */
static const char *database_url(const struct cli *cli)
{
    const char *url =
        cli->database != NULL ? cli->database : cli->config.database;

    if (cli->database != NULL && url[0] == '\0') {
        cli_error("missing database: --database is empty; pass a file "
                  "path, sqlite:PATH or postgres://..., or leave it out "
                  "to use url in [database] of the configuration");
        return NULL;
    }
    if (url == NULL || url[0] == '\0') {
        cli_error("missing database: no URL configured; set url in "
                  "[database] of the configuration or pass --database");
        return NULL;
    }
    return url;
}

/*
 * Copies the file path of a SQLite database URL into `path`: the URL
 * without "sqlite:" and without a "?" query, as the SQLite back end
 * reads it. Returns 0, or -1 for a PostgreSQL URL or an in-memory
 * database, which have no file.
 */
static int sqlite_file_path(const char *url, char *path, size_t size)
{
    const char *query;
    size_t len;

    if (strncmp(url, "postgres://", 11) == 0 ||
        strncmp(url, "postgresql://", 13) == 0)
        return -1;
    if (strncmp(url, "sqlite:", 7) == 0)
        url += 7;

    query = strrchr(url, '?');
    len = query != NULL ? (size_t)(query - url) : strlen(url);
    if (len == 0 || len >= size)
        return -1;
    snprintf(path, size, "%.*s", (int)len, url);
    return strcmp(path, ":memory:") == 0 ? -1 : 0;
}

/*
 * Rejects a SQLite database file that does not exist, so that a command
 * that only reads or changes existing entries never creates an empty
 * database from a mistyped path. Returns CLI_OK or CLI_FAILED.
 */
static int check_database_exists(const struct cli *cli, const char *url)
{
    char path[4096];
    char cwd[4096];
    char fix[4200];

    if (sqlite_file_path(url, path, sizeof path) != 0)
        return CLI_OK;
    if (access(path, F_OK) == 0 || errno != ENOENT)
        return CLI_OK;

    if (cli->database != NULL)
        snprintf(fix, sizeof fix, "check --database (or $PUBQ_DATABASE)");
    else if (cli->config_path != NULL)
        snprintf(fix, sizeof fix, "check url in [database] of %s",
                 cli->config_path);
    else if (access(DEFAULT_CONFIG_PATH, F_OK) == 0)
        snprintf(fix, sizeof fix, "check url in [database] of %s",
                 DEFAULT_CONFIG_PATH);
    else
        snprintf(fix, sizeof fix, "set url in [database] of a "
                                  "configuration file or pass --database");

    if (path[0] != '/' && getcwd(cwd, sizeof cwd) != NULL)
        cli_error("database %s does not exist in the current directory "
                  "%s; %s, or run 'pubq migrate' or 'pubq serve' to "
                  "create it",
                  path, cwd, fix);
    else
        cli_error("database %s does not exist; %s, or run 'pubq migrate' "
                  "or 'pubq serve' to create it",
                  path, fix);
    return CLI_FAILED;
}

static int open_store(struct cli *cli, int must_exist)
{
    const char *url;
    char shown[512];
    char err[STORE_ERR_MAX];

    if (cli->store != NULL)
        return CLI_OK;
    if (cli_load_config(cli) != CLI_OK)
        return CLI_FAILED;

    url = database_url(cli);
    if (url == NULL)
        return CLI_FAILED;
    if (must_exist && check_database_exists(cli, url) != CLI_OK)
        return CLI_FAILED;

    if (store_open(url, &cli->store, err, sizeof err) != STORE_OK) {
        cli_redact_url(url, shown, sizeof shown);
        cli_error("cannot open database %s: %s", shown, err);
        cli->store = NULL;
        return CLI_FAILED;
    }
    return CLI_OK;
}

static int migrate_store(struct cli *cli)
{
    int result = store_migrate(cli->store);

    if (result == STORE_INVALID) {
        /* Another application's database; the message names the fix. */
        cli_error("cannot migrate the database: %s",
                  store_errmsg(cli->store));
        return CLI_FAILED;
    }
    if (result != STORE_OK) {
        cli_error("cannot migrate the database: %s (%s); check that the "
                  "database is writable and this pubq is not older than "
                  "its schema",
                  store_errmsg(cli->store), store_result_name(result));
        return CLI_FAILED;
    }
    return CLI_OK;
}

int cli_open_store(struct cli *cli)
{
    if (open_store(cli, 0) != CLI_OK)
        return CLI_FAILED;
    return migrate_store(cli);
}

int cli_open_existing_store(struct cli *cli)
{
    if (open_store(cli, 1) != CLI_OK)
        return CLI_FAILED;
    return migrate_store(cli);
}

int64_t cli_now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void cli_agent_name(char *agent, size_t size)
{
    const char *user = getenv("USER");

    if (user != NULL && user[0] != '\0')
        snprintf(agent, size, "cli:%s", user);
    else
        snprintf(agent, size, "cli");
}
