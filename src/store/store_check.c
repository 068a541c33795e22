/* Argument checks and idempotency keys shared by every back end. */
#include "store/store_check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "util/decimal.h"

#include "util/banned.h"

int store_fail(struct store *store, int result, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vsnprintf(store->errmsg, sizeof store->errmsg, fmt, args);
    va_end(args);
    return result;
}

static int check_name(struct store *s, size_t index, const char *what,
                      const char *value, size_t max)
{
    if (value == NULL || value[0] == '\0')
        return store_fail(s, STORE_INVALID, "invalid job %zu: missing %s",
                          index, what);
    if (strlen(value) >= max)
        return store_fail(s, STORE_INVALID,
                          "invalid job %zu: %s \"%.40s...\" is longer "
                          "than %zu bytes",
                          index, what, value, max - 1);
    return STORE_OK;
}

static int check_platforms(struct store *s, size_t index,
                           const struct job_request *req)
{
    if (req->platforms == NULL || req->platform_count == 0)
        return store_fail(s, STORE_INVALID,
                          "invalid job %zu (content \"%s\"): empty "
                          "platform list; name at least one platform",
                          index, req->content_id);

    for (size_t i = 0; i < req->platform_count; i++) {
        int result = check_name(s, index, "platform name", req->platforms[i],
                                STORE_NAME_MAX);
        if (result != STORE_OK)
            return result;

        for (size_t j = 0; j < i; j++) {
            if (strcmp(req->platforms[i], req->platforms[j]) == 0)
                return store_fail(s, STORE_INVALID,
                                  "invalid job %zu (content \"%s\"): "
                                  "duplicate platform \"%s\"; list each "
                                  "platform once",
                                  index, req->content_id, req->platforms[i]);
        }
    }
    return STORE_OK;
}

static int check_content(struct store *s, size_t index,
                         const struct job_request *req)
{
    json_error_t error;
    json_t *content = NULL;

    if (req->content_json != NULL)
        content = json_loads(req->content_json, 0, &error);
    if (content == NULL || !json_is_object(content)) {
        json_decref(content);
        return store_fail(s, STORE_INVALID,
                          "invalid job %zu (content \"%s\"): content is "
                          "not a JSON object",
                          index, req->content_id);
    }
    json_decref(content);
    return STORE_OK;
}

static int check_request(struct store *s, size_t index,
                         const struct job_request *req)
{
    int result =
        check_name(s, index, "content item id", req->content_id, STORE_ID_MAX);

    if (result == STORE_OK && req->event_id != NULL)
        result = check_name(s, index, "event id", req->event_id, STORE_ID_MAX);
    if (result == STORE_OK && req->scheduled_at < 0)
        result = store_fail(s, STORE_INVALID,
                            "invalid job %zu (content \"%s\"): negative "
                            "scheduled time %" PRId64,
                            index, req->content_id, req->scheduled_at);
    if (result == STORE_OK)
        result = check_platforms(s, index, req);
    if (result == STORE_OK)
        result = check_content(s, index, req);
    return result;
}

int store_check_event_id(struct store *store, const char *event_id)
{
    if (event_id == NULL || event_id[0] == '\0')
        return store_fail(store, STORE_INVALID,
                          "invalid event id: it is empty; pass NULL for "
                          "an event without id");
    if (strlen(event_id) >= STORE_ID_MAX)
        return store_fail(store, STORE_INVALID,
                          "invalid event id \"%.40s...\": longer than %d "
                          "bytes",
                          event_id, STORE_ID_MAX - 1);
    return STORE_OK;
}

int store_check_requests(struct store *store, const struct job_request *reqs,
                         size_t count, struct submit_result *results)
{
    if (count > 0 && (reqs == NULL || results == NULL))
        return store_fail(store, STORE_INVALID,
                          "invalid submit: no requests or results array");
    if (count > 0)
        memset(results, 0, count * sizeof *results);
    for (size_t i = 0; i < count; i++) {
        int result = check_request(store, i, &reqs[i]);

        if (result != STORE_OK)
            return result;
    }
    return STORE_OK;
}

static enum entry_event event_for(enum entry_status next)
{
    switch (next) {
    case ENTRY_PUBLISHED:
        return ENTRY_EV_SUCCEED;
    case ENTRY_RETRYING:
        return ENTRY_EV_RETRY_LATER;
    default:
        return ENTRY_EV_FAIL;
    }
}

/* Checks a completion against the state machine before anything runs. */
static int check_completion(struct store *s, size_t index,
                            const struct attempt_completion *c)
{
    char why[256];
    enum entry_status to;

    if (entry_transition(ENTRY_PUBLISHING, event_for(c->next_status), &to, why,
                         sizeof why) != 0 ||
        to != c->next_status)
        return store_fail(s, STORE_INVALID,
                          "invalid completion %zu for entry %" PRId64
                          ": next status \"%s\" is not published, "
                          "retrying or failed",
                          index, c->entry_id,
                          entry_status_name(c->next_status));
    if (c->node == NULL || c->node[0] == '\0')
        return store_fail(s, STORE_INVALID,
                          "invalid completion %zu for entry %" PRId64
                          ": missing node id",
                          index, c->entry_id);
    if (c->pause_until > 0 &&
        (c->pause_reason == NULL || c->pause_reason[0] == '\0'))
        return store_fail(s, STORE_INVALID,
                          "invalid completion %zu for entry %" PRId64
                          ": pause_until is set without a pause_reason",
                          index, c->entry_id);
    return STORE_OK;
}

int store_check_completions(struct store *store,
                            const struct attempt_completion *completions,
                            size_t count, int *applied)
{
    if (count > 0 && (completions == NULL || applied == NULL))
        return store_fail(store, STORE_INVALID,
                          "invalid completions: missing array");
    for (size_t i = 0; i < count; i++)
        applied[i] = 0;
    for (size_t i = 0; i < count; i++) {
        int result = check_completion(store, i, &completions[i]);

        if (result != STORE_OK)
            return result;
    }
    return STORE_OK;
}

int store_check_claim(struct store *store, const char *node, int64_t now,
                      int64_t lease_ms)
{
    if (node == NULL || node[0] == '\0' || strlen(node) >= STORE_NAME_MAX)
        return store_fail(store, STORE_INVALID,
                          "invalid node id: give a name of 1 to %d bytes",
                          STORE_NAME_MAX - 1);
    if (lease_ms <= 0 || now > INT64_MAX - lease_ms)
        return store_fail(store, STORE_INVALID,
                          "invalid lease of %" PRId64 " ms: give a "
                          "positive duration",
                          lease_ms);
    return STORE_OK;
}

int store_check_platform(struct store *store, const char *platform)
{
    if (platform == NULL || platform[0] == '\0' ||
        strlen(platform) >= STORE_NAME_MAX)
        return store_fail(store, STORE_INVALID,
                          "invalid platform name: give a name of 1 to %d "
                          "bytes",
                          STORE_NAME_MAX - 1);
    return STORE_OK;
}

/*
 * FNV-1a, 64 bits: the key only has to be stable and spread well, not
 * resist attack, so a ten-line hash serves better than a crypto
 * dependency.
 */
static uint64_t fnv1a(uint64_t hash, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        hash ^= (unsigned char)text[i];
        hash *= UINT64_C(0x100000001b3);
    }
    return hash;
}

/* Copies `text` (`length` bytes) into out, truncated as snprintf would. */
static void copy_truncated(char *out, size_t size, const char *text,
                           size_t length)
{
    if (size == 0)
        return;
    if (length > size - 1)
        length = size - 1;
    memcpy(out, text, length);
    out[length] = '\0';
}

/*
 * The keys are written by hand because they are made for every entry
 * stored, and glibc 2.36's snprintf took about 750 instructions a call
 * (callgrind, `pubq import`), three calls a key.
 */
void store_key_hash(char *hex, size_t size, const char *content_id,
                    const char *platform, int64_t job_id)
{
    static const char hex_digits[] = "0123456789abcdef";
    char job_text[24];
    size_t job_length = decimal_format_int64(job_text, job_id);
    uint64_t hash = UINT64_C(0xcbf29ce484222325);
    char text[17];

    hash = fnv1a(hash, content_id, strlen(content_id) + 1);
    hash = fnv1a(hash, platform, strlen(platform) + 1);
    hash = fnv1a(hash, job_text, job_length);

    for (int i = 15; i >= 0; i--) {
        text[i] = hex_digits[hash & 0xf];
        hash >>= 4;
    }
    copy_truncated(hex, size, text, 16);
}

void store_key_make(char *key, size_t size, int64_t entry_id,
                    const char *content_id, const char *platform,
                    int64_t job_id)
{
    char text[64] = "pubq-";
    size_t length = 5;

    length += decimal_format_int64(text + length, entry_id);
    text[length++] = '-';
    store_key_hash(text + length, sizeof text - length, content_id, platform,
                   job_id);
    copy_truncated(key, size, text, length + 16);
}

const char *store_retry_audit(const struct attempt_completion *c,
                              uint32_t max_retries, json_t **metadata)
{
    const char *status = NULL;

    if (c->not_attempted)
        status = "held";
    else if (c->next_status == ENTRY_RETRYING)
        status = "scheduled";
    else if (c->next_status == ENTRY_PUBLISHED && c->attempt_number > 1)
        status = "success";
    else if (c->next_status == ENTRY_FAILED &&
             c->outcome != OUTCOME_PERMANENT && c->retry_count >= max_retries)
        status = "exhausted";
    if (status == NULL)
        return NULL;

    /* Only a retrying entry has a due time; the other records leave
     * due_at out, as the records of content changes do. */
    json_t *due_at = c->next_status == ENTRY_RETRYING
                         ? json_integer((json_int_t)c->due_at)
                         : NULL;

    /* A held entry's last attempt is the one before the dropped claim. */
    *metadata = json_pack(
        "{s:I, s:I, s:I, s:o*, s:s, s:i, s:s?}", "attempt",
        (json_int_t)(c->attempt_number - (c->not_attempted ? 1 : 0)),
        "retry_count",
        (json_int_t)c->retry_count, "max_retries", (json_int_t)max_retries,
        "due_at", due_at, "outcome", outcome_name(c->outcome),
        "http_status", c->http_status, "error", c->error);
    return status;
}

json_t *store_lease_audit_metadata(const char *node, uint32_t attempt,
                                   uint32_t retry_count, uint32_t max_retries,
                                   const char *fail_reason)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:s*}", "node", node, "attempt",
                     (json_int_t)attempt, "retry_count",
                     (json_int_t)retry_count, "max_retries",
                     (json_int_t)max_retries, "fail_reason", fail_reason);
}

const char *store_agent_or_default(const char *agent)
{
    return agent != NULL && agent[0] != '\0' ? agent : "operator";
}

json_t *store_entry_action_metadata(const struct entry *before)
{
    return json_pack(
        "{s:s, s:I, s:I, s:s, s:s}", "from", entry_status_name(before->status),
        "retry_count", (json_int_t)before->retry_count, "attempts",
        (json_int_t)before->attempt_count, "fail_reason", before->fail_reason,
        "last_error", before->last_error);
}
