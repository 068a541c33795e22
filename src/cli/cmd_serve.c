/* pubq serve: the daemon. pubq sweep: one sweeper run by hand. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/render.h"
#include "engine/engine.h"
#include "http/http_server.h"
#include "publish/adapter.h"
#include "util/log.h"

#include "util/banned.h"

const char cmd_serve_help[] =
    "usage: pubq serve\n"
    "\n"
    "Runs the daemon in the foreground until SIGTERM, SIGINT or SIGHUP:\n"
    "it waits until entries are due, publishes them through their\n"
    "platforms' adapters, retries failures with backoff and runs the\n"
    "sweeper on its cron schedule. It serves the HTTP API and the\n"
    "publishing page on [server] listen (default 127.0.0.1:8080). Logs go\n"
    "to stderr, one line per event.\n"
    "\n"
    "On SIGTERM, SIGINT or SIGHUP (sent when its terminal closes) it stops\n"
    "claiming work and lets attempts in flight finish within [engine]\n"
    "shutdown_grace. Attempts still running then are ended as unknown, so\n"
    "the platform's on_unknown rule applies to them (hold fails the entry\n"
    "for an operator to check, retry retries it). It releases the leases\n"
    "of the entries it still holds and exits with status 0. SIGUSR1 and\n"
    "SIGUSR2 are ignored.\n"
    "\n"
    "options:\n"
    "  --json           accepted for symmetry with the other commands; the\n"
    "                   daemon's log lines stay plain text\n"
    "  --help           print this help and exit\n";

const char cmd_sweep_help[] =
    "usage: pubq sweep\n"
    "\n"
    "Runs the sweeper once now: recovers entries whose lease expired and\n"
    "moves failed entries that still have retries back to pending\n"
    "(except those that failed as expired or with an unknown outcome).\n"
    "Writes one sweep audit record.\n"
    "\n"
    "options:\n"
    "  --json           print {\"requeued\": N, \"recovered\": N}\n"
    "  --help           print this help and exit\n";

static struct engine *running_engine;

/*
 * glibc gives threads up to 8 malloc arenas per core, and the HTTP
 * server runs a thread per connection. Under 200 clients the arenas
 * held about 8 MiB more and kept growing for minutes (load.sh, 30 s:
 * RSS 44 MiB and +10% with the default, 35 MiB and +4.8% with 2), so
 * the daemon uses 2 unless MALLOC_ARENA_MAX says otherwise.
 */
#define SERVE_MALLOC_ARENAS 2

static void limit_malloc_arenas(void)
{
    const char *setting = getenv("MALLOC_ARENA_MAX");

    if (setting == NULL || setting[0] == '\0')
        mallopt(M_ARENA_MAX, SERVE_MALLOC_ARENAS);
}

/* The URL cli_open_store opened: --database, else the configuration's. */
static const char *serve_database_url(const struct cli *cli)
{
    return cli->database != NULL ? cli->database : cli->config.database;
}

static void on_stop_signal(int signo)
{
    (void)signo;
    if (running_engine != NULL)
        engine_stop(running_engine);
}

static void wake_engine(void *engine)
{
    engine_wake(engine);
}

static void install_signal_handlers(void)
{
    struct sigaction action;

    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    /* pubq gives them no meaning, and their default action would end
     * the daemon without releasing its leases. */
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
}

/* Accepts only --json and --help; returns -1 to go on, or an exit code. */
static int parse_no_options(struct cli *cli, const struct cli_command *command,
                            int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (opt == 'j') {
            cli->json = 1;
            continue;
        }
        if (opt == 'h')
            return cli_print_help(command);
        return cli_option_error(command, opt, argv);
    }
    if (optind < argc)
        return cli_usage_error(command, "unexpected argument \"%s\"",
                               argv[optind]);
    return -1;
}

/* The HTTP server opens its own store handles on the same database. */
static struct http_server *start_http(struct cli *cli, struct engine *engine,
                                      struct http_server_hooks *hooks)
{
    char err[HTTP_SERVER_ERR_MAX];
    struct http_server *server;

    if (cli->database != NULL) {
        free(cli->config.database);
        cli->config.database = strdup(cli->database);
    }
    hooks->wake = wake_engine;
    hooks->arg = engine;
    hooks->node_id = engine_node_id(engine);
    server = http_server_start(&cli->config, hooks, err, sizeof err);
    if (server == NULL)
        cli_error("cannot serve HTTP on %s: %s", cli->config.listen, err);
    return server;
}

int cmd_serve(struct cli *cli, const struct cli_command *command, int argc,
              char **argv)
{
    struct http_server_hooks hooks = {0};
    struct http_server *server;
    char err[ENGINE_ERR_MAX];
    enum log_level level;
    int rc = parse_no_options(cli, command, argc, argv);

    if (rc >= 0)
        return rc;

    /* What would fail the start fails it before the database is created
     * or migrated, so a rejected start leaves nothing behind. */
    if (cli_load_config(cli) != CLI_OK)
        return CLI_FAILED;
    if (adapter_check_platforms(&cli->config, err, sizeof err) != 0 ||
        http_server_check(&cli->config, err, sizeof err) != 0) {
        cli_error("cannot start: %s", err);
        return CLI_FAILED;
    }

    limit_malloc_arenas();
    if (cli_open_store(cli) != CLI_OK)
        return CLI_FAILED;
    if (log_level_parse(cli->config.log_level, &level) == 0)
        log_set_level(level);

    running_engine = engine_new(&cli->config, cli->store, err, sizeof err);
    if (running_engine == NULL) {
        cli_error("cannot start: %s", err);
        return CLI_FAILED;
    }
    if (engine_start_writer(running_engine, serve_database_url(cli), err,
                            sizeof err) != 0) {
        cli_error("cannot start: %s", err);
        engine_free(running_engine);
        running_engine = NULL;
        return CLI_FAILED;
    }
    server = start_http(cli, running_engine, &hooks);
    if (server == NULL) {
        engine_free(running_engine);
        running_engine = NULL;
        return CLI_FAILED;
    }
    install_signal_handlers();

    rc = engine_run(running_engine);
    http_server_stop(server);
    engine_free(running_engine);
    running_engine = NULL;
    return rc == 0 ? CLI_OK : CLI_FAILED;
}

int cmd_sweep(struct cli *cli, const struct cli_command *command, int argc,
              char **argv)
{
    struct sweep_result result = {0};
    char err[ENGINE_ERR_MAX];
    int rc = parse_no_options(cli, command, argc, argv);

    if (rc >= 0)
        return rc;
    if (cli_open_existing_store(cli) != CLI_OK)
        return CLI_FAILED;
    if (engine_sweep_once(cli->store, &result, err, sizeof err) != 0) {
        cli_error("%s", err);
        return CLI_FAILED;
    }
    if (cli->json) {
        json_t *document =
            json_pack("{s:I, s:I}", "requeued", (json_int_t)result.requeued,
                      "recovered", (json_int_t)result.recovered);

        return render_json_print(document, stdout) == 0 ? CLI_OK : CLI_FAILED;
    }
    printf("sweep: requeued %zu failed entries, recovered %zu expired "
           "leases\n",
           result.requeued, result.recovered);
    return CLI_OK;
}
