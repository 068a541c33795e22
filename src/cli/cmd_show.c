/* pubq show: one entry with every field, its content and its attempts. */
#include <inttypes.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/render.h"

#include "util/banned.h"

const char cmd_show_help[] =
    "usage: pubq show ENTRY_ID [--json]\n"
    "\n"
    "Shows one queue entry: every field (times as RFC 3339 UTC, the full\n"
    "error text), the content of its job, and its attempt history oldest\n"
    "first (start and end time, outcome, HTTP status, latency in\n"
    "milliseconds, node, error).\n"
    "\n"
    "arguments:\n"
    "  ENTRY_ID   the entry id, as printed by pubq list\n"
    "\n"
    "options:\n"
    "  --json     print one JSON object: the entry's fields plus\n"
    "             \"content\" and \"attempts\"\n"
    "  --help     print this help\n"
    "\n"
    "Without --url, the database is migrated first if its schema is older\n"
    "than this pubq. With --url the daemon reads and writes its database,\n"
    "and this command opens none.\n"
    "Exit status: 0 success, 1 entry not found or database or daemon\n"
    "error, 2 command-line usage error.\n";

/*
 * Fetches the entry, its job and its attempts, then prints them. Returns
 * an exit code.
 */
static int show_entry(struct cli *cli, int64_t id)
{
    struct store *store = cli->store;
    struct entry entry;
    struct job job = {0};
    struct attempt_list attempts = {0};
    int has_job;
    int status;

    status = store->ops->get_entry(store, id, &entry);
    if (status == STORE_NOT_FOUND) {
        cli_error("entry not found: %" PRId64 "; find ids with pubq list", id);
        return CLI_FAILED;
    }
    if (status != STORE_OK) {
        cli_error("cannot read entry %" PRId64 ": %s", id, store_errmsg(store));
        return CLI_FAILED;
    }

    if (store->ops->list_attempts(store, id, &attempts) != STORE_OK) {
        cli_error("cannot read the attempts of entry %" PRId64 ": %s", id,
                  store_errmsg(store));
        return CLI_FAILED;
    }

    /* Without its job the entry is still worth showing. */
    has_job = store->ops->get_job(store, entry.job_id, &job) == STORE_OK;
    if (!has_job)
        cli_error("cannot read job %" PRId64 ": %s; showing the entry "
                  "without its content",
                  entry.job_id, store_errmsg(store));

    status = render_entry_detail(&entry, has_job ? &job : NULL, &attempts,
                                 cli->json, stdout);
    if (has_job)
        job_clear(&job);
    attempt_list_free(&attempts);
    return status == 0 ? CLI_OK : CLI_FAILED;
}

/* Fetches the same data from the daemon's HTTP API (--url). */
static int show_remote(struct cli *cli, int64_t id)
{
    struct entry entry;
    struct job job = {0};
    struct attempt_list attempts = {0};
    int status;

    if (cli_load_config(cli) != CLI_OK ||
        remote_entry_detail(cli, id, &entry, &attempts, &job) != 0)
        return CLI_FAILED;

    status = render_entry_detail(&entry, &job, &attempts, cli->json, stdout);
    job_clear(&job);
    attempt_list_free(&attempts);
    return status == 0 ? CLI_OK : CLI_FAILED;
}

int cmd_show(struct cli *cli, const struct cli_command *command, int argc,
             char **argv)
{
    int64_t id = 0;
    int status = cli_parse_entry_args(cli, command, argc, argv, &id);

    if (status != CLI_CONTINUE)
        return status;
    if (cli->url != NULL)
        return show_remote(cli, id);
    if (cli_open_existing_store(cli) != CLI_OK)
        return CLI_FAILED;

    return show_entry(cli, id);
}
