/*
 * pubq publish: schedules one content item. The options become the
 * `data` object of a publishing.scheduled event and go through intake,
 * so the checks are the same as for the HTTP event API.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/publish_data.h"
#include "cli/remote.h"
#include "cli/render.h"
#include "intake/intake.h"

#include "util/banned.h"

const char cmd_publish_help[] =
    "usage: pubq publish (--text TEXT | --file PATH) --platform NAME...\n"
    "                    [--at TIME] [--id CONTENT_ID] [--title TITLE]\n"
    "                    [--link URL] [--event-id KEY] [--json]\n"
    "\n"
    "Schedules one content item on one or more platforms: one job with\n"
    "one queue entry per platform. The input is validated exactly like a\n"
    "publishing.scheduled event sent to the HTTP API; nothing is stored\n"
    "when any check fails. Prints the job id and its entries.\n"
    "\n"
    "options:\n"
    "  --text TEXT       the text to publish (UTF-8)\n"
    "  --file PATH       read the text from a UTF-8 file, or '-' for\n"
    "                    standard input; one trailing newline is removed;\n"
    "                    at most max_body_bytes of [server] (default\n"
    "                    1 MiB), the limit of the HTTP API\n"
    "  --platform NAME   a configured platform; repeat the option once per\n"
    "                    platform (required)\n"
    "  --at TIME         when to publish: RFC 3339, such as\n"
    "                    2026-12-05T09:00:00+01:00 or ...Z; a time without\n"
    "                    offset is read in the configured default_zone;\n"
    "                    absent or past means now\n"
    "  --id CONTENT_ID   the content item id (default: generated,\n"
    "                    cli-YYYYMMDDTHHMMSSZ-RANDOMHEX)\n"
    "  --title TITLE     optional title, for platforms that show one\n"
    "  --link URL        optional link to the content\n"
    "  --event-id KEY    deduplication key: a second publish with the same\n"
    "                    key creates nothing and reports the first job\n"
    "  --json            print the job and entries as one JSON object\n"
    "  --help            print this help\n"
    "\n"
    "Without --url, the database is migrated first if its schema is older\n"
    "than this pubq. With --url the daemon reads and writes its database,\n"
    "and this command opens none.\n"
    "Exit status: 0 stored (or duplicate event id), 1 rejected by\n"
    "validation, the database or the daemon, 2 command-line usage error.\n";

static int parse_options(struct cli *cli, const struct cli_command *command,
                         int argc, char **argv, struct publish_options *opts)
{
    static const struct option options[] = {
        {"text", required_argument, NULL, 't'},
        {"file", required_argument, NULL, 'f'},
        {"platform", required_argument, NULL, 'p'},
        {"at", required_argument, NULL, 'a'},
        {"id", required_argument, NULL, 'i'},
        {"title", required_argument, NULL, 'T'},
        {"link", required_argument, NULL, 'l'},
        {"event-id", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_seen seen = {0};
    int opt;

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (cli_reject_repeat(command, options, "p", opt, &seen) !=
            CLI_CONTINUE)
            return CLI_USAGE;
        switch (opt) {
        case 't':
            opts->text = optarg;
            break;
        case 'f':
            opts->file = optarg;
            break;
        case 'p':
            opts->platforms[opts->platform_count++] = optarg;
            break;
        case 'a':
            opts->at = optarg;
            break;
        case 'i':
            opts->content_id = optarg;
            break;
        case 'T':
            opts->title = optarg;
            break;
        case 'l':
            opts->link = optarg;
            break;
        case 'e':
            opts->event_id = optarg;
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
    return CLI_CONTINUE;
}

static int check_options(const struct cli_command *command, int argc,
                         char **argv, const struct publish_options *opts)
{
    if (optind < argc)
        return cli_usage_error(command, "unexpected argument: %s",
                               argv[optind]);
    if (opts->text == NULL && opts->file == NULL)
        return cli_usage_error(command, "missing --text or --file");
    if (opts->text != NULL && opts->file != NULL)
        return cli_usage_error(command,
                               "--text and --file given together; pass "
                               "only one");
    if (opts->platform_count == 0)
        return cli_usage_error(command, "missing --platform");
    return CLI_CONTINUE;
}

/*
 * Reads up to max + 1 bytes of `file` into a heap buffer of max + 1 bytes,
 * so that a longer file shows as used > max. Returns NULL after printing
 * the error.
 */
static char *read_limited(FILE *file, const char *path, size_t max,
                          size_t *used)
{
    char *buffer = malloc(max + 1);

    if (buffer == NULL) {
        cli_error("cannot read --file %s: out of memory", path);
        return NULL;
    }

    *used = fread(buffer, 1, max + 1, file);
    if (ferror(file)) {
        cli_error("cannot read --file %s: %s", path, strerror(errno));
        free(buffer);
        return NULL;
    }
    if (*used > max) {
        cli_error("invalid --file %s: larger than %zu bytes "
                  "(max_body_bytes); shorten the text",
                  path, max);
        free(buffer);
        return NULL;
    }
    return buffer;
}

/*
 * Reads `path` ('-': stdin) into a NUL-terminated heap string without its
 * final newline ("\n" or "\r\n"). Files over `max` bytes are rejected,
 * as the HTTP API rejects bodies over it. Returns 0 or -1 after printing
 * the error.
 */
static int read_text_file(const char *path, size_t max, char **text,
                          size_t *length)
{
    FILE *file = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buffer;
    size_t used = 0;

    if (file == NULL) {
        cli_error("cannot open --file %s: %s; check the path", path,
                  strerror(errno));
        return -1;
    }

    buffer = read_limited(file, path, max, &used);
    if (file != stdin)
        fclose(file);
    if (buffer == NULL)
        return -1;

    if (used > 0 && buffer[used - 1] == '\n') {
        used--;
        if (used > 0 && buffer[used - 1] == '\r')
            used--;
    }
    buffer[used] = '\0';

    *text = buffer;
    *length = used;
    return 0;
}

/*
 * Fills `id` with "cli-" and the UTC time and 8 random hex digits, unique
 * enough that two publishes in the same second do not collide.
 */
static void generate_content_id(int64_t now_ms, char *id, size_t size)
{
    time_t seconds = (time_t)(now_ms / 1000);
    struct tm utc;
    char stamp[32];
    uint32_t random;

    if (getrandom(&random, sizeof random, 0) != sizeof random)
        random = (uint32_t)getpid() ^ (uint32_t)now_ms;

    gmtime_r(&seconds, &utc);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    snprintf(id, size, "cli-%s-%08" PRIx32, stamp, random);
}

static int submit_job(struct cli *cli, const struct intake_job *job,
                      int64_t now)
{
    struct job_request request;
    struct submit_result result = {0};
    struct entry_filter filter = {0};
    struct entry_list entries = {0};
    int status;

    intake_job_to_request(job, "cli", &request);
    status =
        cli->store->ops->submit_jobs(cli->store, &request, 1, now, &result);
    if (status != STORE_OK) {
        cli_error("cannot store the job for content %s: %s", job->content_id,
                  store_errmsg(cli->store));
        return CLI_FAILED;
    }

    filter.job_id = result.job_id;
    filter.limit = job->platform_count;
    status = cli->store->ops->list_entries(cli->store, &filter, &entries);
    if (status != STORE_OK) {
        cli_error("job %" PRId64 " stored, but listing its entries failed: "
                  "%s; run 'pubq list --content-id %s'",
                  result.job_id, store_errmsg(cli->store), job->content_id);
        return CLI_FAILED;
    }

    status =
        render_submitted(job->content_id, &result, &entries, cli->json, stdout);
    entry_list_free(&entries);
    return status == 0 ? CLI_OK : CLI_FAILED;
}

/* Stores the job through the daemon's HTTP API (--url). */
static int submit_remote(struct cli *cli, const struct intake_job *job)
{
    struct submit_result result = {0};
    struct entry_list entries = {0};
    char err[1024];
    int status;

    if (remote_submit_jobs(cli, job, 1, &result, err, sizeof err) != 0) {
        cli_error("cannot store the job for content %s: %s", job->content_id,
                  err);
        return CLI_FAILED;
    }
    if (remote_job_entries(cli, result.job_id, &entries) != 0) {
        cli_error("job %" PRId64 " stored, but listing its entries failed; "
                  "run 'pubq list --content-id %s'",
                  result.job_id, job->content_id);
        return CLI_FAILED;
    }

    status =
        render_submitted(job->content_id, &result, &entries, cli->json, stdout);
    entry_list_free(&entries);
    return status == 0 ? CLI_OK : CLI_FAILED;
}

/*
 * Prints an intake error under the option's name: "--id is 201 bytes"
 * rather than "--id: data.contentItemId is 201 bytes".
 */
static void report_intake_error(struct intake_error *error,
                                const struct publish_options *opts)
{
    const char *option = publish_option_for_field(error->field, opts);

    if (intake_error_rename(error, option))
        cli_error("%s", error->message);
    else
        cli_error("%s: %s", error->field, error->message);
}

/*
 * Rejects text that is empty or only whitespace, as intake does. Intake
 * would suggest attaching media, which the CLI has no option for.
 */
static int reject_empty_text(const struct publish_options *opts)
{
    if (opts->file != NULL)
        cli_error("--file: %s is empty or contains only whitespace; write "
                  "the text to publish in it",
                  opts->file);
    else
        cli_error("--text: empty text; pass the text to publish");
    return CLI_FAILED;
}

/* Validates the options through intake and stores the job. */
static int publish(struct cli *cli, const struct publish_options *opts,
                   const char *text, size_t length)
{
    int64_t now = cli_now_ms();
    char generated_id[64];
    const char *content_id = opts->content_id;
    const struct pubq_config *config = remote_intake_config(cli);
    struct intake_job job;
    struct intake_error error = {{0}, {0}};
    json_t *data;
    int status;

    if (config == NULL)
        return CLI_FAILED;
    if (intake_text_is_blank(text, length))
        return reject_empty_text(opts);
    if (content_id == NULL) {
        generate_content_id(now, generated_id, sizeof generated_id);
        content_id = generated_id;
    }

    data = publish_build_data(opts, content_id, text, length);
    if (data == NULL)
        return CLI_FAILED;

    status = intake_parse_scheduled(data, opts->event_id, config,
                                    cli->default_zone, now, &job, &error);
    json_decref(data);
    if (status != 0) {
        report_intake_error(&error, opts);
        return CLI_FAILED;
    }

    if (cli->url != NULL) {
        status = submit_remote(cli, &job);
    } else {
        status = cli_open_store(cli);
        if (status == CLI_OK)
            status = submit_job(cli, &job, now);
    }
    intake_job_clear(&job);
    return status;
}

int cmd_publish(struct cli *cli, const struct cli_command *command, int argc,
                char **argv)
{
    struct publish_options opts = {0};
    char *file_text = NULL;
    size_t length;
    int status;

    /* Every argument could be a --platform value, so argc bounds them. */
    opts.platforms = calloc((size_t)argc, sizeof *opts.platforms);
    if (opts.platforms == NULL) {
        cli_error("cannot parse options: out of memory");
        return CLI_FAILED;
    }

    status = parse_options(cli, command, argc, argv, &opts);
    if (status == CLI_CONTINUE)
        status = check_options(command, argc, argv, &opts);
    if (status != CLI_CONTINUE)
        goto done;

    status = cli_load_config(cli);
    if (status == CLI_OK && opts.file != NULL &&
        read_text_file(opts.file, cli->config.max_body_bytes, &file_text,
                       &length) != 0)
        status = CLI_FAILED;

    if (status == CLI_OK) {
        const char *text = file_text != NULL ? file_text : opts.text;

        status = publish(cli, &opts, text,
                         file_text != NULL ? length : strlen(text));
    }

done:
    free(file_text);
    free(opts.platforms);
    return status;
}
