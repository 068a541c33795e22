/* Parsers of option values and arguments shared by the commands. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/timestamp.h"

#include "util/banned.h"

int cli_option_error(const struct cli_command *command, int result, char **argv)
{
    const char *text = optind > 0 ? argv[optind - 1] : NULL;
    char option[128];

    /* getopt leaves a long option's text behind it, a short one in optopt. */
    if (text != NULL && strncmp(text, "--", 2) == 0)
        snprintf(option, sizeof option, "%s", text);
    else
        snprintf(option, sizeof option, "-%c", optopt);

    if (result == ':')
        return cli_usage_error(command, "missing value for option %s", option);
    return cli_usage_error(command, "unknown option: %s", option);
}

int cli_reject_repeat(const struct cli_command *command,
                      const struct option *options, const char *repeatable,
                      int opt, struct cli_seen *seen)
{
    const struct option *option = options;

    while (option->name != NULL && option->val != opt)
        option++;
    if (option->name == NULL || option->has_arg != required_argument ||
        opt < 0 || opt > 255 || strchr(repeatable, opt) != NULL)
        return CLI_CONTINUE;

    if (seen->count[opt]++ == 0)
        return CLI_CONTINUE;
    return cli_usage_error(command, "--%s given twice; pass it once",
                           option->name);
}

int cli_print_help(const struct cli_command *command)
{
    fputs(command->help, stdout);
    return CLI_OK;
}

int cli_parse_id(const char *text, int64_t *id)
{
    char *end;
    long long value;

    if (text[0] < '0' || text[0] > '9')
        return -1;

    errno = 0;
    value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || value <= 0)
        return -1;

    *id = (int64_t)value;
    return 0;
}

int cli_parse_limit(const char *text, size_t *limit)
{
    int64_t value;

    if (cli_parse_id(text, &value) != 0 || value > CLI_LIMIT_MAX)
        return -1;

    *limit = (size_t)value;
    return 0;
}

int cli_parse_time(const struct cli *cli, const char *text, int64_t *ms,
                   char *err, size_t errlen)
{
    return timestamp_parse(text, cli->default_zone, ms, err, errlen);
}

int cli_parse_entry_args(struct cli *cli, const struct cli_command *command,
                         int argc, char **argv, int64_t *id)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
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
        return cli_usage_error(command, "missing ENTRY_ID");
    if (optind + 1 < argc)
        return cli_usage_error(command, "unexpected argument: %s",
                               argv[optind + 1]);
    if (cli_parse_id(argv[optind], id) != 0)
        return cli_usage_error(command,
                               "invalid ENTRY_ID: %s; use the id printed "
                               "by pubq list (a positive number)",
                               argv[optind]);
    return CLI_CONTINUE;
}
