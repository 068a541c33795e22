/* pubq audit: the audit log, filtered, newest first. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/render.h"
#include "core/audit_action.h"

#include "util/banned.h"

#define AUDIT_DEFAULT_LIMIT 100

const char cmd_audit_help[] =
    "usage: pubq audit [--job CONTENT_ID] [--action ACTION]\n"
    "                  [--platform NAME] [--since TIME] [--until TIME]\n"
    "                  [--limit N] [--json]\n"
    "\n"
    "Lists audit records, newest first. Each state change of the queue\n"
    "(intake, publish results, retries, cancels, sweeps, lease recovery,\n"
    "platform pauses) writes one record in the same transaction. Every\n"
    "filter given must match.\n"
    "\n"
    "options:\n"
    "  --job CONTENT_ID  records of one content item (its job id in the\n"
    "                    audit log is the content item id)\n"
    "  --action ACTION   one action: accepted, publish, retry,\n"
    "                    manual_retry, cancel, reschedule,\n"
    "                    mark_published, sweep, lease_recovered,\n"
    "                    lease_released, platform_paused or\n"
    "                    platform_resumed\n"
    "  --platform NAME   records about one platform\n"
    "  --since TIME      records at or after TIME (RFC 3339, such as\n"
    "                    2026-12-05T00:00:00Z; a time without offset is\n"
    "                    read in the configured default_zone)\n"
    "  --until TIME      records before TIME (same format)\n"
    "  --limit N         at most N records, 1 to 1000 (default 100)\n"
    "  --json            print a JSON array; metadata stays JSON\n"
    "  --help            print this help\n"
    "\n"
    "Without --url, the database is migrated first if its schema is older\n"
    "than this pubq. With --url the daemon reads and writes its database,\n"
    "and this command opens none.\n"
    "Exit status: 0 success (also when nothing matches), 1 database or\n"
    "daemon error, 2 command-line usage error.\n";

/* The raw option values; times are parsed once the zone is known. */
struct audit_options {
    const char *since;
    const char *until;
};

static int reject_action(const struct cli_command *command, const char *action)
{
    char names[512];

    audit_action_list(names, sizeof names);
    return cli_usage_error(command, "invalid --action: %s; use one of %s",
                           action, names);
}

static int parse_options(struct cli *cli, const struct cli_command *command,
                         int argc, char **argv, struct audit_filter *filter,
                         struct audit_options *opts)
{
    static const struct option options[] = {
        {"job", required_argument, NULL, 'J'},
        {"action", required_argument, NULL, 'a'},
        {"platform", required_argument, NULL, 'p'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"limit", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_seen seen = {0};
    int opt;

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (cli_reject_repeat(command, options, "", opt, &seen) !=
            CLI_CONTINUE)
            return CLI_USAGE;
        switch (opt) {
        case 'J':
            filter->job_id = optarg;
            break;
        case 'a':
            if (!audit_action_known(optarg))
                return reject_action(command, optarg);
            filter->action = optarg;
            break;
        case 'p':
            filter->platform = optarg;
            break;
        case 's':
            opts->since = optarg;
            break;
        case 'u':
            opts->until = optarg;
            break;
        case 'n':
            if (cli_parse_limit(optarg, &filter->limit) != 0)
                return cli_usage_error(command,
                                       "invalid --limit: %s; use a whole "
                                       "number from 1 to %d",
                                       optarg, CLI_LIMIT_MAX);
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

    if (optind < argc)
        return cli_usage_error(command, "unexpected argument: %s",
                               argv[optind]);
    return CLI_CONTINUE;
}

/* Parses the value of a time option into *ms, when it was given. */
static int parse_time_option(const struct cli *cli,
                             const struct cli_command *command,
                             const char *option, const char *text, int64_t *ms)
{
    char err[512];

    if (text == NULL)
        return CLI_CONTINUE;
    if (cli_parse_time(cli, text, ms, err, sizeof err) != 0)
        return cli_usage_error(command, "invalid %s: %s", option, err);
    return CLI_CONTINUE;
}

static int parse_times(const struct cli *cli, const struct cli_command *command,
                       const struct audit_options *opts,
                       struct audit_filter *filter)
{
    int status =
        parse_time_option(cli, command, "--since", opts->since, &filter->from);

    if (status == CLI_CONTINUE)
        status = parse_time_option(cli, command, "--until", opts->until,
                                   &filter->to);
    if (status == CLI_CONTINUE && opts->since != NULL && opts->until != NULL &&
        filter->to <= filter->from)
        return cli_usage_error(command,
                               "invalid --until: %s is not after --since "
                               "%s; swap the two times",
                               opts->until, opts->since);
    return status;
}

int cmd_audit(struct cli *cli, const struct cli_command *command, int argc,
              char **argv)
{
    struct audit_filter filter = {.limit = AUDIT_DEFAULT_LIMIT};
    struct audit_options opts = {0};
    struct audit_list list = {0};
    int status = parse_options(cli, command, argc, argv, &filter, &opts);

    if (status != CLI_CONTINUE)
        return status;

    /* A naive --since needs the configured default_zone. */
    if (cli_load_config(cli) != CLI_OK)
        return CLI_FAILED;
    status = parse_times(cli, command, &opts, &filter);
    if (status != CLI_CONTINUE)
        return status;

    if (cli->url != NULL) {
        if (remote_list_audit(cli, &filter, &list) != 0)
            return CLI_FAILED;
    } else if (cli_open_existing_store(cli) != CLI_OK) {
        return CLI_FAILED;
    } else if (cli->store->ops->list_audit(cli->store, &filter, &list) !=
               STORE_OK) {
        cli_error("cannot read the audit log: %s", store_errmsg(cli->store));
        return CLI_FAILED;
    }

    status = render_audit(&list, cli->json, stdout) == 0 ? CLI_OK : CLI_FAILED;
    audit_list_free(&list);
    return status;
}
