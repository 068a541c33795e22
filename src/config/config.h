/*
 * The configuration file: one INI file read with libinih. Every option,
 * its default and its unit are documented in docs/configuration.md.
 *
 *   struct pubq_config config;
 *   char err[CONFIG_ERR_MAX];
 *
 *   if (config_load("pubq.conf", &config, err, sizeof err) != 0)
 *       die(err);
 *   ...
 *   config_free(&config);
 */
#ifndef PUBQ_CONFIG_H
#define PUBQ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/backoff.h"
#include "core/retry_decision.h"

#define CONFIG_ERR_MAX 1024

/* One `key = value` line of a platform section, kept for its adapter. */
struct config_option {
    char *key;
    char *value;
    int line;
};

/* One `[platform NAME]` section. */
struct platform_config {
    char *name;
    char *type; /* adapter type: file, webhook, command, mastodon, ... */
    uint32_t max_retries;
    int64_t max_lateness_ms; /* 0: no limit */
    enum on_unknown on_unknown;
    uint32_t concurrency; /* attempts in flight at once */
    int line;             /* line of the section header */
    struct config_option *options; /* every other key, in file order */
    size_t option_count;
};

struct pubq_config {
    char *path;
    char *listen;       /* "127.0.0.1:8080" */
    char *database;     /* "pubq.db", "sqlite:PATH" or "postgres://..." */
    char *node_id;      /* NULL: derived from host name and pid */
    char *default_zone; /* IANA name for naive timestamps, or NULL */
    char *api_token_env; /* variable holding the API token, or NULL */
    /* More Host names the server answers, comma-separated, or NULL. */
    char *allowed_hosts;
    uint32_t max_connections; /* HTTP connections open at once */
    int64_t idle_timeout_ms;  /* an HTTP connection silent this long closes */
    char *log_level;
    struct retry_policy retry;
    char *sweeper_cron; /* "0 * * * *" */
    char *sweeper_zone; /* "UTC" */
    int64_t lease_ms;
    int64_t shutdown_grace_ms;
    uint32_t claim_batch;
    uint32_t max_in_flight;
    int64_t claim_ahead_ms; /* claim entries due within this; 0: off */
    size_t max_body_bytes;
    struct platform_config *platforms;
    size_t platform_count;
};

/*
 * Reads and checks the file at `path`, then applies
 * config_apply_environment. Environment variables named by *_env options
 * are not read here. Returns 0, or -1 with a message in err that names
 * the file, the line, the key and the fix. On failure *config is left
 * empty and needs no config_free.
 */
int config_load(const char *path, struct pubq_config *config, char *err,
                size_t errlen);

/*
 * Sets every option to its default, with no platforms. Returns 0, or -1
 * when out of memory, leaving *config empty.
 */
int config_init_defaults(struct pubq_config *config);

/*
 * Applies the environment overrides: PUBQ_DATABASE, when set and not
 * empty, replaces the database url. Returns 0, or -1 when out of memory,
 * with a message in err.
 */
int config_apply_environment(struct pubq_config *config, char *err,
                             size_t errlen);

/* Frees every string and platform and empties *config. */
void config_free(struct pubq_config *config);

/* Returns the platform named `name`, or NULL. */
const struct platform_config *
config_find_platform(const struct pubq_config *config, const char *name);

/* Returns the value of an adapter option of a platform, or NULL. */
const char *platform_config_option(const struct platform_config *platform,
                                   const char *key);

#endif
