/*
 * The pubq command-line tool: shared state of one run, the command table
 * entry type, and helpers every command uses to read options, open the
 * configuration and the store, and report errors.
 *
 * A command handler receives its own argv (argv[0] is the command name),
 * parses it with getopt_long, fetches data through the library and hands
 * it to the render_* functions. It returns one of the exit codes below.
 */
#ifndef PUBQ_CLI_H
#define PUBQ_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/zone.h"
#include "store/store.h"

/*
 * Exit codes. CLI_USAGE is only for the command line itself: an unknown
 * command or option, a missing argument, or an option value that is not
 * of the option's type. Input that is well formed but rejected by
 * validation (unknown platform, impossible date) or by the store is
 * CLI_FAILED.
 */
enum cli_exit {
    CLI_CONTINUE = -1, /* not an exit code: option parsing may go on */
    CLI_OK = 0,
    CLI_FAILED = 1,
    CLI_USAGE = 2,
};

/*
 * The state of one run, filled by the global options, cli_load_config and
 * cli_open_store.
 */
struct cli {
    const char *config_path; /* --config or $PUBQ_CONFIG, or NULL */
    const char *database;    /* --database or $PUBQ_DATABASE, or NULL */
    int json;                /* --json: one JSON document on stdout */
    const char *url;         /* --url or $PUBQ_URL: the daemon API */
    char shown_url[1024];    /* url without its password, for messages */

    struct pubq_config config;
    int config_loaded;
    struct zone *default_zone; /* from config default_zone, or NULL */
    struct store *store;

    /* With --url: the daemon's platforms, for local checks by intake. */
    struct pubq_config remote_config;
    int remote_config_loaded;
};

struct cli_command;

typedef int (*cli_handler)(struct cli *cli, const struct cli_command *command,
                           int argc, char **argv);

/* One row of the command table. */
struct cli_command {
    const char *name;
    cli_handler run;
    const char *summary; /* one line for `pubq --help` */
    const char *help;    /* the full text for `pubq NAME --help` */
};

/* Frees what cli_load_config and cli_open_store acquired. */
void cli_free(struct cli *cli);

/*
 * Loads the configuration: the file named by --config or $PUBQ_CONFIG,
 * else ./pubq.conf if it exists, else the built-in defaults. Also loads
 * the default time zone when the configuration names one. Returns
 * CLI_OK, or CLI_FAILED after printing the error. Idempotent.
 */
int cli_load_config(struct cli *cli);

/*
 * Loads the configuration, then opens the database named by --database,
 * $PUBQ_DATABASE or the configuration, and applies pending migrations.
 * Returns CLI_OK, or CLI_FAILED after printing the error.
 */
int cli_open_store(struct cli *cli);

/*
 * Like cli_open_store, but rejects a SQLite file that does not exist
 * instead of creating it, for commands that only read or change
 * existing entries. Returns CLI_OK, or CLI_FAILED after printing the
 * error.
 */
int cli_open_existing_store(struct cli *cli);

/*
 * Copies a URL with the password of its user info replaced by "***",
 * such as postgres://user:***@host or http://user:***@host, so that it
 * can appear in a message.
 */
void cli_redact_url(const char *url, char *out, size_t size);

/* Prints "pubq: MESSAGE" and a newline on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Prints "pubq: MESSAGE; run 'pubq COMMAND --help' for usage" on stderr
 * and returns CLI_USAGE.
 */
int cli_usage_error(const struct cli_command *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Reports what getopt_long returned for an unknown option ('?') or a
 * missing argument (':'); `argv` and `optind` locate the option text.
 * Returns CLI_USAGE.
 */
int cli_option_error(const struct cli_command *command, int result,
                     char **argv);

/* Counts of each option seen by getopt_long, indexed by its `val`. */
struct cli_seen {
    unsigned char count[256];
};

/*
 * Rejects a second use of an option that takes one value, such as
 * `--text x --text y`, instead of keeping the last. Call it with each
 * `opt` that getopt_long returns, `options` the table passed to it and
 * `repeatable` the `val` characters of options that may repeat (such as
 * "p" for --platform of publish). Returns CLI_CONTINUE, or CLI_USAGE
 * after printing "--text given twice; pass it once".
 */
int cli_reject_repeat(const struct cli_command *command,
                      const struct option *options, const char *repeatable,
                      int opt, struct cli_seen *seen);

/* Prints the command's help text on stdout and returns CLI_OK. */
int cli_print_help(const struct cli_command *command);

/*
 * Parses an entry id or --before value: a decimal integer from 1 to
 * INT64_MAX. Returns 0, or -1 leaving *id unchanged.
 */
int cli_parse_id(const char *text, int64_t *id);

/*
 * Parses the arguments of show, retry and cancel: --json, --help and one
 * ENTRY_ID. Returns CLI_CONTINUE with *id set, or an exit code after
 * printing help or a usage error.
 */
int cli_parse_entry_args(struct cli *cli, const struct cli_command *command,
                         int argc, char **argv, int64_t *id);

/* Parses a --limit value: 1 to CLI_LIMIT_MAX. Returns 0 or -1. */
int cli_parse_limit(const char *text, size_t *limit);

#define CLI_LIMIT_MAX 1000

/*
 * Parses an RFC 3339 time, or a naive one in the configured default
 * zone, into milliseconds since the epoch. Returns 0, or -1 with a
 * message in err.
 */
int cli_parse_time(const struct cli *cli, const char *text, int64_t *ms,
                   char *err, size_t errlen);

/* Returns the current time in milliseconds since the Unix epoch. */
int64_t cli_now_ms(void);

/*
 * Fills `agent` with the audit agent name of this run: "cli:USER" from
 * $USER, or "cli".
 */
void cli_agent_name(char *agent, size_t size);

/* Command handlers, one per command; the table in main.c lists them. */
int cmd_publish(struct cli *cli, const struct cli_command *command, int argc,
                char **argv);
int cmd_import(struct cli *cli, const struct cli_command *command, int argc,
               char **argv);
int cmd_list(struct cli *cli, const struct cli_command *command, int argc,
             char **argv);
int cmd_show(struct cli *cli, const struct cli_command *command, int argc,
             char **argv);
int cmd_retry(struct cli *cli, const struct cli_command *command, int argc,
              char **argv);
int cmd_cancel(struct cli *cli, const struct cli_command *command, int argc,
               char **argv);
int cmd_audit(struct cli *cli, const struct cli_command *command, int argc,
              char **argv);
int cmd_migrate(struct cli *cli, const struct cli_command *command, int argc,
                char **argv);
int cmd_serve(struct cli *cli, const struct cli_command *command, int argc,
              char **argv);
int cmd_sweep(struct cli *cli, const struct cli_command *command, int argc,
              char **argv);

extern const char cmd_publish_help[];
extern const char cmd_import_help[];
extern const char cmd_list_help[];
extern const char cmd_show_help[];
extern const char cmd_retry_help[];
extern const char cmd_cancel_help[];
extern const char cmd_audit_help[];
extern const char cmd_migrate_help[];
extern const char cmd_serve_help[];
extern const char cmd_sweep_help[];

#endif
