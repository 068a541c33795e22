/*
 * The `file` adapter: appends each post as one JSON line to a local file,
 * so pubq can publish with no account anywhere. After an attempt whose
 * outcome is unknown (pubq died between the write and storing the
 * result), it looks for the entry's idempotency key in the file first
 * and appends nothing when the line is there.
 *
 *   [platform local]
 *   type = file
 *   path = published.jsonl
 */
#include "publish/adapter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/timestamp.h"
#include "publish/adapter_options.h"
#include "util/banned.h"

static const char *const file_options[] = {"path", NULL};

struct file_adapter {
    char *path;
};

static int file_create(const struct platform_config *platform, void **state,
                       char *err, size_t errlen)
{
    struct file_adapter *adapter;
    const char *path = platform_config_option(platform, "path");

    if (adapter_options_check_known(platform, file_options, err, errlen) != 0)
        return -1;
    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen,
                 "missing option path for file platform \"%s\": set it to "
                 "the file that receives the posts, e.g. path = "
                 "published.jsonl",
                 platform->name);
        return -1;
    }

    adapter = calloc(1, sizeof *adapter);
    if (adapter == NULL || (adapter->path = strdup(path)) == NULL) {
        free(adapter);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *state = adapter;
    return 0;
}

static void file_destroy(void *state)
{
    struct file_adapter *adapter = state;

    if (adapter == NULL)
        return;
    free(adapter->path);
    free(adapter);
}

/* Builds the line, newline included. Returns NULL without content. */
static char *line_build(const struct publish_attempt *attempt, size_t *len)
{
    const struct entry *entry = attempt->entry;
    char published_at[TIMESTAMP_MAX];
    json_t *line;
    char *text;
    char *with_newline;

    if (attempt->content == NULL || !json_is_object(attempt->content))
        return NULL;
    if (timestamp_format(attempt->now, published_at, sizeof published_at))
        return NULL;

    /* clang-format off */
    line = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:o}",
                     "entry_id", (json_int_t)entry->id,
                     "content_id", entry->content_id,
                     "platform", entry->platform,
                     "idempotency_key", entry->idempotency_key,
                     "attempt", (json_int_t)entry->attempt_count,
                     "published_at", published_at,
                     "content", json_deep_copy(attempt->content));
    /* clang-format on */
    if (line == NULL)
        return NULL;

    /* Compact output escapes control characters, so it is one line. */
    text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (text == NULL)
        return NULL;

    *len = strlen(text) + 1;
    with_newline = realloc(text, *len + 1);
    if (with_newline == NULL) {
        free(text);
        return NULL;
    }
    with_newline[*len - 1] = '\n';
    with_newline[*len] = '\0';
    return with_newline;
}

/* Classifies an errno from open, write or fsync. */
static void fail_errno(struct adapter_result *result, const char *path,
                       const char *step, int error)
{
    switch (error) {
    case ENOENT:
    case ENOTDIR:
        adapter_result_fail(result, OUTCOME_PERMANENT,
                            "cannot %s \"%s\": its directory does not "
                            "exist; create it or change path",
                            step, path);
        break;
    case EACCES:
    case EPERM:
    case EROFS:
        adapter_result_fail(result, OUTCOME_PERMANENT,
                            "cannot %s \"%s\": %s; give pubq's user write "
                            "access or change path",
                            step, path, strerror(error));
        break;
    case EISDIR:
        adapter_result_fail(result, OUTCOME_PERMANENT,
                            "cannot %s \"%s\": it is a directory; set path "
                            "to a file name",
                            step, path);
        break;
    default:
        /* Disk full, quota, I/O errors: space or the device may return. */
        adapter_result_fail(result, OUTCOME_TRANSIENT, "cannot %s \"%s\": %s",
                            step, path, strerror(error));
        break;
    }
}

/*
 * Removes a partial line after a short write, but only while it is still
 * the last thing in the file, so another writer's lines are never cut.
 */
static void undo_short_write(int fd, off_t end, size_t written)
{
    struct stat info;

    if (fstat(fd, &info) == 0 && info.st_size == end)
        (void)!ftruncate(fd, end - (off_t)written);
}

/* Appends the line with one write() and syncs it. Returns 0 or -1. */
static int line_append(const char *path, const char *line, size_t len,
                       struct adapter_result *result)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    ssize_t written;
    off_t end;

    if (fd < 0) {
        fail_errno(result, path, "open", errno);
        return -1;
    }

    /* O_APPEND makes the write land at the end even with other writers. */
    written = write(fd, line, len);
    if (written < 0 || (size_t)written != len) {
        int error = written < 0 ? errno : ENOSPC;

        end = lseek(fd, 0, SEEK_CUR);
        if (written > 0 && end >= 0)
            undo_short_write(fd, end, (size_t)written);
        fail_errno(result, path, "write to", error);
        close(fd);
        return -1;
    }
    end = lseek(fd, 0, SEEK_CUR);

    if (fsync(fd) != 0) {
        /* The line is in the file but may not survive a crash. */
        adapter_result_fail(result, OUTCOME_UNKNOWN,
                            "wrote to \"%s\" but fsync failed: %s; check "
                            "the line and mark the entry published or retry",
                            path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);

    snprintf(result->post_id, sizeof result->post_id, "%s:%lld", path,
             (long long)(end - (off_t)len));
    return 0;
}

/* Whether `line` is a post of the entry with idempotency key `key`. */
static int line_has_key(const char *line, const char *key)
{
    json_t *post;
    int found;

    /* Most lines fail the cheap test; parse only the candidates. */
    if (strstr(line, key) == NULL)
        return 0;
    post = json_loads(line, 0, NULL);
    found = json_is_object(post) &&
            json_is_string(json_object_get(post, "idempotency_key")) &&
            strcmp(json_string_value(json_object_get(post, "idempotency_key")),
                   key) == 0;
    json_decref(post);
    return found;
}

/*
 * Looks for an earlier post of the entry in the file. Returns 1 and sets
 * *offset to the start of its line, 0 when there is none, -1 with the
 * error in result when the file cannot be read. It reads the whole
 * file, which only an attempt after an unknown outcome does.
 */
static int find_post(const char *path, const char *key, off_t *offset,
                     struct adapter_result *result)
{
    FILE *file = fopen(path, "re");
    char *line = NULL;
    size_t size = 0;
    off_t start = 0;
    ssize_t length;
    int found = 0;

    if (file == NULL) {
        if (errno == ENOENT)
            return 0;
        fail_errno(result, path, "read", errno);
        return -1;
    }
    while (!found && (length = getline(&line, &size, file)) > 0) {
        found = line_has_key(line, key);
        if (found)
            *offset = start;
        start += length;
    }
    if (!found && ferror(file)) {
        fail_errno(result, path, "read", errno);
        found = -1;
    }
    free(line);
    fclose(file);
    return found;
}

/* Marks the attempt published when the previous one wrote its line. */
static int reconcile(const struct file_adapter *adapter,
                     struct publish_attempt *attempt)
{
    off_t offset = 0;
    int found = find_post(adapter->path, attempt->entry->idempotency_key,
                          &offset, &attempt->result);

    if (found != 1)
        return found;
    attempt->result.outcome = OUTCOME_SUCCESS;
    attempt->result.error[0] = '\0';
    snprintf(attempt->result.post_id, sizeof attempt->result.post_id,
             "%s:%lld", adapter->path, (long long)offset);
    return 1;
}

static enum adapter_step
file_start(void *state, struct publish_attempt *attempt, CURL **easy)
{
    struct file_adapter *adapter = state;
    size_t len = 0;
    char *line;

    (void)easy;
    if (attempt->previous_unknown && reconcile(adapter, attempt) != 0)
        return ADAPTER_DONE;

    line = line_build(attempt, &len);
    if (line == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_PERMANENT,
                            "cannot serialise the content of entry %lld "
                            "as JSON: the content must be a JSON object",
                            (long long)attempt->entry->id);
        return ADAPTER_DONE;
    }

    if (line_append(adapter->path, line, len, &attempt->result) == 0) {
        attempt->result.outcome = OUTCOME_SUCCESS;
        attempt->result.error[0] = '\0';
    }
    free(line);
    return ADAPTER_DONE;
}

const struct adapter_ops adapter_file_ops = {
    .type = "file",
    .options = file_options,
    .reconcile_window_ms = ADAPTER_RECONCILE_ALWAYS, /* the key in the file */
    .create = file_create,
    .destroy = file_destroy,
    .check_content = NULL,
    .start = file_start,
    .on_response = NULL,
    .end = NULL,
};
