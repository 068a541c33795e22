#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config_mode.h"
#include "config/config_parse.h"
#include "config/config_value.h"
#include "util/banned.h"

/* A configuration file is a few kilobytes; this bounds a wrong path. */
#define CONFIG_FILE_MAX_BYTES (1024 * 1024)

int config_init_defaults(struct pubq_config *config)
{
    memset(config, 0, sizeof *config);
    retry_policy_init(&config->retry);
    config->lease_ms = 5 * 60 * 1000;
    config->shutdown_grace_ms = 10 * 1000;
    config->claim_batch = 64;
    config->max_in_flight = 256;
    config->claim_ahead_ms = 2 * 1000;
    config->max_body_bytes = 1024 * 1024;
    config->max_connections = 256;
    config->idle_timeout_ms = 10 * 1000;

    config->listen = strdup("127.0.0.1:8080");
    config->database = strdup("pubq.db");
    config->log_level = strdup("info");
    config->sweeper_cron = strdup("0 * * * *");
    config->sweeper_zone = strdup("UTC");
    if (config->listen == NULL || config->database == NULL ||
        config->log_level == NULL || config->sweeper_cron == NULL ||
        config->sweeper_zone == NULL) {
        config_free(config);
        return -1;
    }
    return 0;
}

static void platform_config_free(struct platform_config *platform)
{
    for (size_t i = 0; i < platform->option_count; i++) {
        free(platform->options[i].key);
        free(platform->options[i].value);
    }
    free(platform->options);
    free(platform->name);
    free(platform->type);
}

void config_free(struct pubq_config *config)
{
    if (config == NULL)
        return;

    for (size_t i = 0; i < config->platform_count; i++)
        platform_config_free(&config->platforms[i]);
    free(config->platforms);
    free(config->path);
    free(config->listen);
    free(config->database);
    free(config->node_id);
    free(config->default_zone);
    free(config->api_token_env);
    free(config->allowed_hosts);
    free(config->log_level);
    free(config->sweeper_cron);
    free(config->sweeper_zone);
    memset(config, 0, sizeof *config);
}

int config_apply_environment(struct pubq_config *config, char *err,
                             size_t errlen)
{
    const char *database = getenv("PUBQ_DATABASE");
    char *copy;

    if (database == NULL || database[0] == '\0')
        return 0;

    copy = strdup(database);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory reading PUBQ_DATABASE");
        return -1;
    }
    free(config->database);
    config->database = copy;
    return 0;
}

/* Fills err with "PATH: problem", the path escaped as in parse errors. */
static void fail_file(const char *path, char *err, size_t errlen,
                      const char *problem)
{
    char shown[CONFIG_ERR_MAX / 2];

    config_escape_controls(path, shown, sizeof shown);
    snprintf(err, errlen, "%s: %s", shown, problem);
}

/* Opens path for reading; a directory opens on Linux but cannot be read. */
static FILE *open_file(const char *path, char *err, size_t errlen)
{
    char problem[256];
    FILE *file = fopen(path, "rb");
    struct stat info;

    if (file == NULL) {
        snprintf(problem, sizeof problem, "failed to open: %s; check the path",
                 strerror(errno));
        fail_file(path, err, errlen, problem);
        return NULL;
    }
    if (fstat(fileno(file), &info) == 0 && S_ISDIR(info.st_mode)) {
        fail_file(path, err, errlen,
                  "is a directory; name the configuration file inside it");
        fclose(file);
        return NULL;
    }
    return file;
}

/* Reads the whole file into a NUL-terminated heap buffer. */
static char *read_file(const char *path, size_t *length, char *err,
                       size_t errlen)
{
    FILE *file = open_file(path, err, errlen);
    char problem[256];
    char *text = NULL;
    size_t size;

    if (file == NULL)
        return NULL;

    text = malloc(CONFIG_FILE_MAX_BYTES + 1);
    if (text == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        fclose(file);
        return NULL;
    }
    errno = 0;
    size = fread(text, 1, CONFIG_FILE_MAX_BYTES + 1, file);

    if (ferror(file) || size > CONFIG_FILE_MAX_BYTES) {
        if (ferror(file))
            snprintf(problem, sizeof problem,
                     "failed to read the file: %s; check the path",
                     strerror(errno));
        else
            snprintf(problem, sizeof problem,
                     "file larger than 1 MiB; check the path");
        fail_file(path, err, errlen, problem);
        free(text);
        text = NULL;
    } else {
        text[size] = '\0';
        *length = size;
    }
    fclose(file);
    return text;
}

static int parse_file(const char *path, struct pubq_config *config, char *err,
                      size_t errlen)
{
    struct config_parser parser;
    int result;

    memset(&parser, 0, sizeof parser);
    parser.config = config;
    parser.path = path;
    parser.err = err;
    parser.errlen = errlen;
    parser.text = read_file(path, &parser.length, err, errlen);
    if (parser.text == NULL)
        return -1;

    result = config_parse_text(&parser);

    free((char *)parser.text);
    free(parser.platform_lines);
    return result;
}

int config_load(const char *path, struct pubq_config *config, char *err,
                size_t errlen)
{
    if (config_init_defaults(config) != 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }

    config->path = strdup(path);
    if (config->path == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        config_free(config);
        return -1;
    }

    if (parse_file(path, config, err, errlen) != 0 ||
        config_check_file_mode(path, config, err, errlen) != 0 ||
        config_apply_environment(config, err, errlen) != 0) {
        config_free(config);
        return -1;
    }
    return 0;
}

const struct platform_config *
config_find_platform(const struct pubq_config *config, const char *name)
{
    for (size_t i = 0; i < config->platform_count; i++) {
        if (strcmp(config->platforms[i].name, name) == 0)
            return &config->platforms[i];
    }
    return NULL;
}

const char *platform_config_option(const struct platform_config *platform,
                                   const char *key)
{
    for (size_t i = 0; i < platform->option_count; i++) {
        if (strcmp(platform->options[i].key, key) == 0)
            return platform->options[i].value;
    }
    return NULL;
}
