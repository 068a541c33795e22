/* pubq list: queue entries matching filters, newest first. */
#include <inttypes.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/render.h"

#include "util/banned.h"

#define LIST_DEFAULT_LIMIT 100

const char cmd_list_help[] =
    "usage: pubq list [--status STATUS] [--platform NAME]\n"
    "                 [--content-id ID] [--limit N] [--before ENTRY_ID]\n"
    "                 [--json]\n"
    "\n"
    "Lists queue entries (one per job and platform), newest first. Every\n"
    "filter given must match. Times print as RFC 3339 UTC; long error\n"
    "text is cut with \"...\" (pubq show prints it whole).\n"
    "\n"
    "options:\n"
    "  --status STATUS    pending, publishing, published, retrying,\n"
    "                     failed or cancelled\n"
    "  --platform NAME    entries of one platform\n"
    "  --content-id ID    entries of one content item\n"
    "  --limit N          at most N entries, 1 to 1000 (default 100)\n"
    "  --before ENTRY_ID  only entries with a smaller id: pass the last id\n"
    "                     of a page to read the next page\n"
    "  --json             print a JSON array of entry objects\n"
    "  --help             print this help\n"
    "\n"
    "Without --url, the database is migrated first if its schema is older\n"
    "than this pubq. With --url the daemon reads and writes its database,\n"
    "and this command opens none.\n"
    "Exit status: 0 success (also when nothing matches), 1 database or\n"
    "daemon error, 2 command-line usage error.\n";

static int parse_options(struct cli *cli, const struct cli_command *command,
                         int argc, char **argv, struct entry_filter *filter)
{
    static const struct option options[] = {
        {"status", required_argument, NULL, 's'},
        {"platform", required_argument, NULL, 'p'},
        {"content-id", required_argument, NULL, 'c'},
        {"limit", required_argument, NULL, 'n'},
        {"before", required_argument, NULL, 'b'},
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
        case 's':
            if (entry_status_parse(optarg, &filter->status) != 0)
                return cli_usage_error(
                    command,
                    "invalid --status: %s; use pending, publishing, "
                    "published, retrying, failed or cancelled",
                    optarg);
            filter->has_status = 1;
            break;
        case 'p':
            filter->platform = optarg;
            break;
        case 'c':
            filter->content_id = optarg;
            break;
        case 'n':
            if (cli_parse_limit(optarg, &filter->limit) != 0)
                return cli_usage_error(command,
                                       "invalid --limit: %s; use a whole "
                                       "number from 1 to %d",
                                       optarg, CLI_LIMIT_MAX);
            break;
        case 'b':
            if (cli_parse_id(optarg, &filter->before_id) != 0)
                return cli_usage_error(command,
                                       "invalid --before: %s; use an "
                                       "entry id (a positive number)",
                                       optarg);
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

int cmd_list(struct cli *cli, const struct cli_command *command, int argc,
             char **argv)
{
    struct entry_filter filter = {.limit = LIST_DEFAULT_LIMIT};
    struct entry_list list = {0};
    int status = parse_options(cli, command, argc, argv, &filter);

    if (status != CLI_CONTINUE)
        return status;

    if (cli->url != NULL) {
        if (cli_load_config(cli) != CLI_OK ||
            remote_list_entries(cli, &filter, &list) != 0)
            return CLI_FAILED;
    } else if (cli_open_existing_store(cli) != CLI_OK) {
        return CLI_FAILED;
    } else if (cli->store->ops->list_entries(cli->store, &filter, &list) !=
               STORE_OK) {
        cli_error("cannot list entries: %s", store_errmsg(cli->store));
        return CLI_FAILED;
    }

    status =
        render_entries(&list, cli->json, stdout) == 0 ? CLI_OK : CLI_FAILED;
    if (!cli->json && list.count == filter.limit)
        fprintf(stderr,
                "pubq: showing the newest %zu; add --before %" PRId64
                " for the next page\n",
                list.count, list.items[list.count - 1].id);

    entry_list_free(&list);
    return status;
}
