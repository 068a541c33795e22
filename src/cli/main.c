/*
 * pubq: global options and the command table. Each command lives in its
 * own cmd_*.c file; this file only routes to it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#include "util/banned.h"

/* PUBQ_VERSION comes from project(VERSION) in CMakeLists.txt. */

static const struct cli_command commands[] = {
    {"publish", cmd_publish, "schedule one content item on platforms",
     cmd_publish_help},
    {"import", cmd_import, "schedule every row of a CSV or JSON Lines file",
     cmd_import_help},
    {"list", cmd_list, "list queue entries, newest first", cmd_list_help},
    {"show", cmd_show, "show one entry and its attempt history", cmd_show_help},
    {"retry", cmd_retry, "move a failed entry back to pending", cmd_retry_help},
    {"cancel", cmd_cancel, "cancel an entry that has not started",
     cmd_cancel_help},
    {"audit", cmd_audit, "query the audit log", cmd_audit_help},
    {"migrate", cmd_migrate, "apply database migrations explicitly",
     cmd_migrate_help},
    {"serve", cmd_serve, "run the daemon: publish due entries, retry, sweep",
     cmd_serve_help},
    {"sweep", cmd_sweep, "run the sweeper once now", cmd_sweep_help},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const struct cli_command global_command = {"", NULL, NULL, NULL};

static void print_usage(FILE *out)
{
    fputs("usage: pubq [--config FILE] [--database URL] [--url URL] [--json]\n"
          "            COMMAND [OPTIONS]\n"
          "\n"
          "Schedules content for publishing and inspects the queue.\n"
          "\n"
          "global options:\n"
          "  --config FILE    configuration file (default: $PUBQ_CONFIG,\n"
          "                   else ./pubq.conf if it exists, else the\n"
          "                   built-in defaults)\n"
          "  --database URL   database instead of the configured one: a\n"
          "                   SQLite path, sqlite:PATH or postgres://...\n"
          "                   (default: $PUBQ_DATABASE, else the\n"
          "                   configuration)\n"
          "  --url URL        send publish, import, list, show, retry,\n"
          "                   cancel and audit to the HTTP API of a\n"
          "                   running pubq serve, such as\n"
          "                   http://127.0.0.1:8080, instead of opening\n"
          "                   the database (default: $PUBQ_URL); the API\n"
          "                   token comes from the variable named by\n"
          "                   api_token_env, else $PUBQ_API_TOKEN\n"
          "  --json           print one JSON document for scripts\n"
          "  --help           print this help and exit\n"
          "  --version        print the version and exit\n"
          "\n"
          "commands:\n",
          out);

    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);

    fputs("\n"
          "Every command that opens the database applies pending\n"
          "migrations first.\n"
          "Run 'pubq COMMAND --help' for the options of a command.\n"
          "\n"
          "exit status: 0 success; 1 the request failed (validation,\n"
          "database, entry state); 2 usage error on the command line\n",
          out);
}

static const struct cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

static const char *env_or_null(const char *name)
{
    const char *value = getenv(name);

    return value != NULL && value[0] != '\0' ? value : NULL;
}

/*
 * Parses the options before the command name. Returns CLI_CONTINUE to go
 * on with the command, or an exit code when the run is over (help,
 * version, usage error).
 */
static int parse_global_options(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"database", required_argument, NULL, 'd'},
        {"url", required_argument, NULL, 'u'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cli_seen seen = {0};
    int opt;

    /* '+' stops at the command name; ':' reports a missing value. */
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        if (cli_reject_repeat(&global_command, options, "", opt, &seen) !=
            CLI_CONTINUE)
            return CLI_USAGE;
        switch (opt) {
        case 'c':
            cli->config_path = optarg;
            break;
        case 'd':
            cli->database = optarg;
            break;
        case 'u':
            cli->url = optarg;
            break;
        case 'j':
            cli->json = 1;
            break;
        case 'h':
            print_usage(stdout);
            return CLI_OK;
        case 'V':
            printf("pubq %s\n", PUBQ_VERSION);
            return CLI_OK;
        default:
            return cli_option_error(&global_command, opt, argv);
        }
    }
    return CLI_CONTINUE;
}

static int run(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *command;
    int status;

    cli->config_path = env_or_null("PUBQ_CONFIG");
    cli->database = env_or_null("PUBQ_DATABASE");
    cli->url = env_or_null("PUBQ_URL");

    status = parse_global_options(cli, argc, argv);
    if (status != CLI_CONTINUE)
        return status;

    if (cli->url != NULL)
        cli_redact_url(cli->url, cli->shown_url, sizeof cli->shown_url);

    if (optind >= argc)
        return cli_usage_error(&global_command, "missing command");

    command = find_command(argv[optind]);
    if (command == NULL)
        return cli_usage_error(&global_command, "unknown command: %s",
                               argv[optind]);

    argv += optind;
    argc -= optind;
    /* glibc: optind 0 restarts getopt for the command's own argv. */
    optind = 0;
    return command->run(cli, command, argc, argv);
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    int status = run(&cli, argc, argv);

    cli_free(&cli);

    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write output: %s", strerror(errno));
        return CLI_FAILED;
    }
    return status;
}
