/*
 * pubq import: schedules every row of a content calendar file (CSV or
 * JSON Lines). Every row goes through intake first, so a bad row stores
 * nothing. The whole file is then stored in one transaction, or with
 * --url in requests that fit the daemon's body limit.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/render.h"
#include "intake/import.h"
#include "intake/intake.h"

#include "util/banned.h"

const char cmd_import_help[] =
    "usage: pubq import FILE [--dry-run] [--json]\n"
    "\n"
    "Schedules every row of a content calendar: one job per row, with one\n"
    "queue entry per platform. FILE is CSV (with a header row) or JSON\n"
    "Lines (one publishing.scheduled data object per line), told apart by\n"
    "the extension .csv, .jsonl or .ndjson. Every row is validated like a\n"
    "publishing.scheduled event sent to the HTTP API. When any row is\n"
    "invalid, the error names the row and the field and nothing is\n"
    "stored; otherwise all rows are stored in one transaction.\n"
    "\n"
    "With --url the rows are sent to the daemon in requests of at most\n"
    "max_body_bytes of [server] in this configuration (default 1 MiB),\n"
    "smaller when the daemon rejects one as too large. Each request is\n"
    "stored all or none: when one fails, the rows before it stay stored\n"
    "and the error says how many. Give rows an event_id so that a second\n"
    "import skips the rows already stored.\n"
    "\n"
    "arguments:\n"
    "  FILE        the calendar file to read\n"
    "\n"
    "options:\n"
    "  --dry-run   validate every row and print the counts, store nothing\n"
    "  --json      print the counts (and job ids) as one JSON object\n"
    "  --help      print this help\n"
    "\n"
    "Without --url, the database is migrated first if its schema is older\n"
    "than this pubq. With --url the daemon reads and writes its database,\n"
    "and this command opens none.\n"
    "Exit status: 0 all rows valid (and stored unless --dry-run), 1 a row\n"
    "is invalid or the database or daemon failed, 2 command-line usage\n"
    "error.\n";

struct import_options {
    const char *path;
    int dry_run;
};

static int parse_options(struct cli *cli, const struct cli_command *command,
                         int argc, char **argv, struct import_options *opts)
{
    static const struct option options[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'n':
            opts->dry_run = 1;
            break;
        case 'j':
            cli->json = 1;
            break;
        case 'h':
            return cli_print_help(command);
        default:
            return cli_option_error(command, opt, argv);
        }
    }

    if (optind >= argc)
        return cli_usage_error(command, "missing FILE");
    if (optind + 1 < argc)
        return cli_usage_error(command, "unexpected argument: %s",
                               argv[optind + 1]);
    opts->path = argv[optind];
    return CLI_CONTINUE;
}

static size_t count_entries(const struct intake_job *jobs, size_t count)
{
    size_t entries = 0;

    for (size_t i = 0; i < count; i++)
        entries += jobs[i].platform_count;
    return entries;
}

static int print_dry_run(const struct cli *cli, const char *path,
                         const struct intake_job *jobs, size_t count)
{
    size_t entries = count_entries(jobs, count);

    if (cli->json)
        return render_json_print(
            json_pack("{s:s, s:b, s:I, s:I}", "file", path, "stored", 0, "jobs",
                      (json_int_t)count, "entries", (json_int_t)entries),
            stdout);

    printf("%s: %zu %s with %zu %s valid; dry run, nothing stored\n", path,
           count, count == 1 ? "job" : "jobs", entries,
           entries == 1 ? "entry" : "entries");
    return 0;
}

static int print_stored(const struct cli *cli, const char *path,
                        const struct intake_job *jobs,
                        const struct submit_result *results, size_t count)
{
    size_t created = 0;
    size_t entries = 0;
    json_t *ids = cli->json ? json_array() : NULL;

    for (size_t i = 0; i < count; i++) {
        if (results[i].duplicate)
            continue;
        created++;
        entries += jobs[i].platform_count;
        json_array_append_new(ids, json_integer(results[i].job_id));
    }

    if (cli->json)
        return render_json_print(
            json_pack("{s:s, s:b, s:I, s:I, s:I, s:o}", "file", path, "stored",
                      1, "jobs", (json_int_t)created, "entries",
                      (json_int_t)entries, "duplicates",
                      (json_int_t)(count - created), "job_ids", ids),
            stdout);

    printf("%s: imported %zu %s with %zu %s", path, created,
           created == 1 ? "job" : "jobs", entries,
           entries == 1 ? "entry" : "entries");
    if (created < count)
        printf("; %zu rows skipped because their event id was seen before",
               count - created);
    putchar('\n');
    return 0;
}

/* Stores every job in one submit_jobs call: all rows or none. */
static int store_jobs(struct cli *cli, const char *path,
                      const struct intake_job *jobs, size_t count, int64_t now)
{
    struct job_request *requests = calloc(count, sizeof *requests);
    struct submit_result *results = calloc(count, sizeof *results);
    int status = CLI_FAILED;

    if (requests == NULL || results == NULL) {
        cli_error("cannot import %s: out of memory for %zu rows", path, count);
        goto done;
    }

    for (size_t i = 0; i < count; i++)
        intake_job_to_request(&jobs[i], "import", &requests[i]);

    if (cli->store->ops->submit_jobs(cli->store, requests, count, now,
                                     results) != STORE_OK) {
        cli_error("cannot import %s: %s; nothing was stored", path,
                  store_errmsg(cli->store));
        goto done;
    }
    status = print_stored(cli, path, jobs, results, count) == 0 ? CLI_OK
                                                                : CLI_FAILED;
done:
    free(requests);
    free(results);
    return status;
}

/* Stores every job through the daemon's HTTP API (--url), in batches. */
static int store_jobs_remote(struct cli *cli, const char *path,
                             const struct intake_job *jobs, size_t count)
{
    struct submit_result *results = calloc(count, sizeof *results);
    size_t stored = 0;
    char err[1024];
    int status = CLI_FAILED;

    if (results == NULL) {
        cli_error("cannot import %s: out of memory for %zu rows", path, count);
        return CLI_FAILED;
    }
    if (remote_import_jobs(cli, jobs, count, cli->config.max_body_bytes,
                           results, &stored, err, sizeof err) != 0) {
        if (stored == 0)
            cli_error("cannot import %s: %s; nothing was stored", path, err);
        else
            cli_error("cannot import %s from row %zu: %s; rows 1 to %zu "
                      "were stored, the rest not",
                      path, stored + 1, err, stored);
    } else if (print_stored(cli, path, jobs, results, count) == 0) {
        status = CLI_OK;
    }
    free(results);
    return status;
}

static int import_file(struct cli *cli, const struct import_options *opts)
{
    int64_t now = cli_now_ms();
    const struct pubq_config *config = remote_intake_config(cli);
    struct intake_job *jobs = NULL;
    size_t count = 0;
    struct intake_error error = {{0}, {0}};
    int status;

    if (config == NULL)
        return CLI_FAILED;
    if (import_read_file(opts->path, config, cli->default_zone, now, &jobs,
                         &count, &error) != 0) {
        cli_error("cannot import %s: %s: %s; nothing was stored", opts->path,
                  error.field, error.message);
        return CLI_FAILED;
    }

    if (opts->dry_run)
        status = print_dry_run(cli, opts->path, jobs, count) == 0 ? CLI_OK
                                                                  : CLI_FAILED;
    else if (count == 0)
        status = print_stored(cli, opts->path, jobs, NULL, 0) == 0 ? CLI_OK
                                                                   : CLI_FAILED;
    else if (cli->url != NULL)
        status = store_jobs_remote(cli, opts->path, jobs, count);
    else if (cli_open_store(cli) != CLI_OK)
        status = CLI_FAILED;
    else
        status = store_jobs(cli, opts->path, jobs, count, now);

    import_jobs_free(jobs, count);
    return status;
}

int cmd_import(struct cli *cli, const struct cli_command *command, int argc,
               char **argv)
{
    struct import_options opts = {0};
    int status = parse_options(cli, command, argc, argv, &opts);

    if (status != CLI_CONTINUE)
        return status;
    if (cli_load_config(cli) != CLI_OK)
        return CLI_FAILED;

    return import_file(cli, &opts);
}
