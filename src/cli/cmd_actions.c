/* pubq retry and pubq cancel: the manual actions on one entry. */
#include <inttypes.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/render.h"

#include "util/banned.h"

const char cmd_retry_help[] =
    "usage: pubq retry ENTRY_ID [--json]\n"
    "\n"
    "Moves a failed entry back to pending, due now. A manual retry starts\n"
    "a fresh retry budget (retry count 0) and keeps the attempt history.\n"
    "Only failed entries can be retried. Writes a \"manual_retry\" audit\n"
    "record.\n"
    "\n"
    "arguments:\n"
    "  ENTRY_ID   the entry id, as printed by pubq list\n"
    "\n"
    "options:\n"
    "  --json     print the entry after the retry as a JSON object\n"
    "  --help     print this help\n"
    "\n"
    "Without --url, the database is migrated first if its schema is older\n"
    "than this pubq. With --url the daemon reads and writes its database,\n"
    "and this command opens none.\n"
    "Exit status: 0 retried, 1 entry not found, not failed, or database\n"
    "or daemon error, 2 command-line usage error.\n";

const char cmd_cancel_help[] =
    "usage: pubq cancel ENTRY_ID [--json]\n"
    "\n"
    "Cancels an entry that has not started: pending, retrying or failed.\n"
    "A cancelled entry is never published. An entry that is publishing or\n"
    "published cannot be cancelled. Writes a \"cancel\" audit record.\n"
    "\n"
    "arguments:\n"
    "  ENTRY_ID   the entry id, as printed by pubq list\n"
    "\n"
    "options:\n"
    "  --json     print the entry after the cancel as a JSON object\n"
    "  --help     print this help\n"
    "\n"
    "Without --url, the database is migrated first if its schema is older\n"
    "than this pubq. With --url the daemon reads and writes its database,\n"
    "and this command opens none.\n"
    "Exit status: 0 cancelled, 1 entry not found, not cancellable, or\n"
    "database or daemon error, 2 command-line usage error.\n";

/* One manual action: its words for messages and the store call. */
struct entry_action {
    const char *path; /* "retry", as in POST /v1/entries/ID/retry */
    const char *verb; /* "retry" */
    const char *done; /* "retried" */
    enum entry_event event;
    const char *allowed; /* the rule, for the error message */
    int (*apply)(struct store *store, int64_t id, int64_t now,
                 const char *agent);
};

static int apply_retry(struct store *store, int64_t id, int64_t now,
                       const char *agent)
{
    return store->ops->retry_entry(store, id, now, agent);
}

static int apply_cancel(struct store *store, int64_t id, int64_t now,
                        const char *agent)
{
    return store->ops->cancel_entry(store, id, now, agent);
}

static const struct entry_action retry_action = {
    "retry",
    "retry",
    "retried",
    ENTRY_EV_REQUEUE,
    "only failed entries can be retried",
    apply_retry};

static const struct entry_action cancel_action = {
    "cancel",
    "cancel",
    "cancelled",
    ENTRY_EV_CANCEL,
    "only pending, retrying or failed entries can be cancelled",
    apply_cancel};

/* Reads entry `id`. Returns CLI_OK, or CLI_FAILED after printing why. */
static int read_entry(struct cli *cli, int64_t id, struct entry *entry)
{
    int status = cli->store->ops->get_entry(cli->store, id, entry);

    if (status == STORE_NOT_FOUND) {
        cli_error("entry not found: %" PRId64 "; find ids with pubq list", id);
        return CLI_FAILED;
    }
    if (status != STORE_OK) {
        cli_error("cannot read entry %" PRId64 ": %s", id,
                  store_errmsg(cli->store));
        return CLI_FAILED;
    }
    return CLI_OK;
}

/* Reports that the entry's status does not allow the action. */
static int reject_state(const struct entry_action *action,
                        const struct entry *entry)
{
    cli_error("cannot %s entry %" PRId64 ": it is %s; %s", action->verb,
              entry->id, entry_status_name(entry->status), action->allowed);
    return CLI_FAILED;
}

static int print_result(struct cli *cli, const struct entry_action *action,
                        const struct entry *entry)
{
    if (cli->json)
        return render_json_print(render_entry_json(entry), stdout) == 0
                   ? CLI_OK
                   : CLI_FAILED;

    printf("entry %" PRId64 " %s: now %s, retries %" PRIu32 " / %" PRIu32 "\n",
           entry->id, action->done, entry_status_name(entry->status),
           entry->retry_count, entry->max_retries);
    return CLI_OK;
}

static int run_action(struct cli *cli, const struct entry_action *action,
                      int64_t id)
{
    struct entry entry;
    enum entry_status next;
    char agent[STORE_NAME_MAX];
    int status;

    if (read_entry(cli, id, &entry) != CLI_OK)
        return CLI_FAILED;

    /* The state machine is the one authority on what is allowed, except
     * where only the store can tell (a cancel of an entry claimed ahead). */
    if (!entry_store_decides(entry.status, action->event) &&
        entry_transition(entry.status, action->event, &next, NULL, 0) != 0)
        return reject_state(action, &entry);

    cli_agent_name(agent, sizeof agent);
    status = action->apply(cli->store, id, cli_now_ms(), agent);
    if (status == STORE_CONFLICT || status == STORE_INVALID) {
        /* Another writer (a daemon, a second operator) moved it first,
         * or the attempt of an entry claimed ahead has started. */
        if (read_entry(cli, id, &entry) != CLI_OK)
            return CLI_FAILED;
        if (entry_transition(entry.status, action->event, &next, NULL, 0) != 0)
            return reject_state(action, &entry);
        cli_error("cannot %s entry %" PRId64 ": it changed meanwhile and is "
                  "now %s; run the command again",
                  action->verb, id, entry_status_name(entry.status));
        return CLI_FAILED;
    }
    if (status != STORE_OK) {
        cli_error("cannot %s entry %" PRId64 ": %s", action->verb, id,
                  store_errmsg(cli->store));
        return CLI_FAILED;
    }

    if (read_entry(cli, id, &entry) != CLI_OK)
        return CLI_FAILED;
    return print_result(cli, action, &entry);
}

/* Runs the action through the daemon's HTTP API (--url). */
static int run_remote(struct cli *cli, const struct entry_action *action,
                      int64_t id)
{
    struct entry entry;

    if (cli_load_config(cli) != CLI_OK ||
        remote_entry_action(cli, action->path, action->verb, id, &entry) != 0)
        return CLI_FAILED;
    return print_result(cli, action, &entry);
}

static int run_command(struct cli *cli, const struct cli_command *command,
                       const struct entry_action *action, int argc, char **argv)
{
    int64_t id = 0;
    int status = cli_parse_entry_args(cli, command, argc, argv, &id);

    if (status != CLI_CONTINUE)
        return status;
    if (cli->url != NULL)
        return run_remote(cli, action, id);
    if (cli_open_existing_store(cli) != CLI_OK)
        return CLI_FAILED;

    return run_action(cli, action, id);
}

int cmd_retry(struct cli *cli, const struct cli_command *command, int argc,
              char **argv)
{
    return run_command(cli, command, &retry_action, argc, argv);
}

int cmd_cancel(struct cli *cli, const struct cli_command *command, int argc,
               char **argv)
{
    return run_command(cli, command, &cancel_action, argc, argv);
}
