#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg.h"
#include "store/store_sqlite.h"
#include "util/banned.h"

static int has_prefix(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static int open_url(const char *url, int create, struct store **store,
                    char *err, size_t errlen)
{
    if (url == NULL || url[0] == '\0') {
        snprintf(err, errlen,
                 "missing database URL: pass a file path, "
                 "\"sqlite:PATH\" or \"postgres://...\"");
        return STORE_INVALID;
    }

    /* The PostgreSQL back end never repeats the URL: it may carry a
     * password. */
    if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://"))
        return store_pg_open(url, store, err, errlen);

    if (has_prefix(url, "sqlite:"))
        url += strlen("sqlite:");
    if (url[0] == '\0') {
        snprintf(err, errlen, "missing file path after \"sqlite:\"");
        return STORE_INVALID;
    }
    return store_sqlite_open(url, create, store, err, errlen);
}

int store_open(const char *url, struct store **store, char *err, size_t errlen)
{
    return open_url(url, 1, store, err, errlen);
}

int store_open_existing(const char *url, struct store **store, char *err,
                        size_t errlen)
{
    return open_url(url, 0, store, err, errlen);
}

const char *store_result_name(int result)
{
    switch (result) {
    case STORE_OK:
        return "ok";
    case STORE_NOT_FOUND:
        return "not found";
    case STORE_CONFLICT:
        return "conflict";
    case STORE_INVALID:
        return "invalid";
    case STORE_BUSY:
        return "busy";
    case STORE_FULL:
        return "full";
    case STORE_ERROR:
        return "error";
    default:
        return "unknown result";
    }
}

/* One transaction per group: the path of a back end without groups. */
static void submit_each_group(struct store *store, struct submit_group *groups,
                              size_t count, int64_t now)
{
    for (size_t i = 0; i < count; i++) {
        struct submit_group *group = &groups[i];

        group->result = store->ops->submit_jobs(store, group->reqs,
                                                group->count, now,
                                                group->results);
        group->errmsg[0] = '\0';
        if (group->result != STORE_OK)
            snprintf(group->errmsg, sizeof group->errmsg, "%s",
                     store_errmsg(store));
    }
}

int store_submit_groups(struct store *store, struct submit_group *groups,
                        size_t count, int64_t now)
{
    if (store->ops->submit_groups != NULL)
        return store->ops->submit_groups(store, groups, count, now);

    submit_each_group(store, groups, count, now);
    return STORE_OK;
}

void job_clear(struct job *job)
{
    if (job == NULL)
        return;
    free(job->content_json);
    job->content_json = NULL;
}

void entry_list_free(struct entry_list *list)
{
    if (list == NULL)
        return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

int entry_list_append(struct entry_list *to, struct entry_list *from)
{
    struct entry *items;

    if (from->count == 0)
        return 0;
    if (to->count == 0) {
        entry_list_free(to);
        *to = *from;
        from->items = NULL;
        from->count = 0;
        return 0;
    }
    items = realloc(to->items, (to->count + from->count) * sizeof *items);
    if (items == NULL)
        return -1;
    memcpy(items + to->count, from->items, from->count * sizeof *items);
    to->items = items;
    to->count += from->count;
    entry_list_free(from);
    return 0;
}

void attempt_list_free(struct attempt_list *list)
{
    if (list == NULL)
        return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

void audit_list_free(struct audit_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].metadata_json);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

void platform_state_list_free(struct platform_state_list *list)
{
    if (list == NULL)
        return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

void attempt_stats_list_free(struct attempt_stats_list *list)
{
    if (list == NULL)
        return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}
