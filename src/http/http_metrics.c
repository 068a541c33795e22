/*
 * GET /metrics in the Prometheus text format 0.0.4. Every figure is
 * read from the store at scrape time, so it covers all nodes and the
 * CLI that share the database, not only this process.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

#include "util/banned.h"

/* Writes a label value with \, " and newline escaped, as the format needs. */
static void write_label(FILE *out, const char *value)
{
    for (; *value != '\0'; value++) {
        if (*value == '\\')
            fputs("\\\\", out);
        else if (*value == '"')
            fputs("\\\"", out);
        else if (*value == '\n')
            fputs("\\n", out);
        else
            fputc(*value, out);
    }
}

static void write_header(FILE *out, const char *name, const char *type,
                         const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int write_entries(FILE *out, struct store *store,
                         const struct pubq_config *config)
{
    struct status_counts counts;

    write_header(out, "pubq_entries", "gauge",
                 "Queue entries by status and platform.");
    for (size_t p = 0; p < config->platform_count; p++) {
        const char *platform = config->platforms[p].name;
        int result = store->ops->count_entries(store, platform, &counts);

        if (result != STORE_OK)
            return result;
        for (int s = 0; s < ENTRY_STATUS_COUNT; s++) {
            fprintf(out, "pubq_entries{status=\"%s\",platform=\"",
                    entry_status_name((enum entry_status)s));
            write_label(out, platform);
            fprintf(out, "\"} %" PRId64 "\n", counts.by_status[s]);
        }
    }
    return STORE_OK;
}

static void write_attempts(FILE *out, const struct attempt_stats_list *stats)
{
    write_header(out, "pubq_attempts_total", "counter",
                 "Publish attempts that ended, by platform and outcome.");
    for (size_t i = 0; i < stats->count; i++) {
        for (int o = 0; o < OUTCOME_COUNT; o++) {
            fputs("pubq_attempts_total{platform=\"", out);
            write_label(out, stats->items[i].platform);
            fprintf(out, "\",outcome=\"%s\"} %" PRId64 "\n",
                    outcome_name((enum outcome)o),
                    stats->items[i].by_outcome[o]);
        }
    }
}

static void write_histogram(FILE *out, const struct attempt_stats *item)
{
    for (int b = 0; b < STORE_LATENCY_BUCKETS; b++) {
        fputs("pubq_publish_latency_seconds_bucket{platform=\"", out);
        write_label(out, item->platform);
        fprintf(out, "\",le=\"%g\"} %" PRId64 "\n",
                (double)store_latency_bounds_ms[b] / 1000.0,
                item->latency_buckets[b]);
    }
    fputs("pubq_publish_latency_seconds_bucket{platform=\"", out);
    write_label(out, item->platform);
    fprintf(out, "\",le=\"+Inf\"} %" PRId64 "\n", item->latency_count);

    fputs("pubq_publish_latency_seconds_sum{platform=\"", out);
    write_label(out, item->platform);
    fprintf(out, "\"} %.3f\n", (double)item->latency_sum_ms / 1000.0);
    fputs("pubq_publish_latency_seconds_count{platform=\"", out);
    write_label(out, item->platform);
    fprintf(out, "\"} %" PRId64 "\n", item->latency_count);
}

static void write_latency_and_retries(FILE *out,
                                      const struct attempt_stats_list *stats)
{
    write_header(out, "pubq_publish_latency_seconds", "histogram",
                 "Duration of finished publish attempts, by platform.");
    for (size_t i = 0; i < stats->count; i++)
        write_histogram(out, &stats->items[i]);

    write_header(out, "pubq_retries_total", "counter",
                 "Attempts after the first of their entry, by platform.");
    for (size_t i = 0; i < stats->count; i++) {
        fputs("pubq_retries_total{platform=\"", out);
        write_label(out, stats->items[i].platform);
        fprintf(out, "\"} %" PRId64 "\n", stats->items[i].retries);
    }
}

static int write_paused(FILE *out, struct store *store,
                        const struct pubq_config *config, int64_t now)
{
    struct platform_state_list states = {0};
    int result = store->ops->list_platform_states(store, &states);

    if (result != STORE_OK)
        return result;
    write_header(out, "pubq_platform_paused", "gauge",
                 "1 while the platform is paused, else 0.");
    for (size_t p = 0; p < config->platform_count; p++) {
        int paused = 0;

        for (size_t i = 0; i < states.count; i++) {
            if (strcmp(states.items[i].platform, config->platforms[p].name) ==
                0)
                paused = states.items[i].paused_until > now;
        }
        fputs("pubq_platform_paused{platform=\"", out);
        write_label(out, config->platforms[p].name);
        fprintf(out, "\"} %d\n", paused);
    }
    platform_state_list_free(&states);
    return STORE_OK;
}

static int write_metrics(FILE *out, struct store *store,
                         const struct http_request *request)
{
    const struct pubq_config *config = request->server->config;
    struct attempt_stats_list stats = {0};
    int result = write_entries(out, store, config);

    if (result == STORE_OK)
        result = store->ops->attempt_stats(store, &stats);
    if (result != STORE_OK)
        return result;

    write_attempts(out, &stats);
    write_latency_and_retries(out, &stats);
    attempt_stats_list_free(&stats);
    return write_paused(out, store, config, request->now);
}

void http_handle_metrics(struct http_request *request, struct http_reply *reply)
{
    struct store *store = http_request_store(request, reply);
    char *text = NULL;
    size_t size = 0;
    FILE *out;
    int result;

    if (store == NULL)
        return;
    out = open_memstream(&text, &size);
    if (out == NULL) {
        http_reply_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                         "cannot build the metrics: out of memory");
        return;
    }

    result = write_metrics(out, store, request);
    fclose(out);
    if (result != STORE_OK) {
        free(text);
        http_reply_store_error(reply, store, result, "cannot read the metrics");
        return;
    }

    http_reply_clear(reply);
    reply->status = MHD_HTTP_OK;
    reply->body = text;
    reply->size = size;
    reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
