/*
 * The file adapter writing real files in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "publish/adapter.h"
#include "test_support.h"

#define FIXED_NOW 1764921600123LL /* 2025-12-05T08:00:00.123Z */

static void *file_create(const char *path, char *err, size_t errlen)
{
    struct config_option option = {.key = "path", .value = (char *)path};
    struct platform_config platform = {
        .name = "local",
        .type = "file",
        .options = &option,
        .option_count = path != NULL ? 1 : 0,
    };
    void *state = NULL;

    if (adapter_find("file")->create(&platform, &state, err, errlen) != 0)
        return NULL;
    return state;
}

/* One attempt of entry `id`, whose idempotency key is "key-ID". */
static struct adapter_result publish_entry(void *state, int64_t id,
                                           uint32_t attempt_number,
                                           int previous_unknown,
                                           const char *text)
{
    struct entry entry = {.id = id, .attempt_count = attempt_number};
    json_t *content = json_pack("{s:s}", "text", text);
    struct publish_attempt attempt = {
        .entry = &entry,
        .content = content,
        .now = FIXED_NOW,
        .previous_unknown = previous_unknown,
    };
    CURL *easy = NULL;

    snprintf(entry.content_id, sizeof entry.content_id, "post-%lld",
             (long long)id);
    snprintf(entry.platform, sizeof entry.platform, "local");
    snprintf(entry.idempotency_key, sizeof entry.idempotency_key,
             "key-%lld", (long long)id);
    attempt.result.hint_ms = -1;

    assert_int_equal(
        adapter_start(adapter_find("file"), state, &attempt, &easy),
        ADAPTER_DONE);
    assert_null(easy);
    json_decref(content);
    return attempt.result;
}

static struct adapter_result publish(void *state, uint32_t attempt_number)
{
    return publish_entry(state, 7, attempt_number, 0, "line one\nline two");
}

static size_t count_lines(const char *text)
{
    size_t lines = 0;

    for (const char *p = text; *p != '\0'; p++)
        lines += *p == '\n';
    return lines;
}

/* Reads the whole file into a string the caller frees. */
static char *read_text(const char *path)
{
    FILE *file = fopen(path, "r");
    char *text = calloc(1, 65536);
    size_t len;

    assert_non_null(file);
    assert_non_null(text);
    len = fread(text, 1, 65535, file);
    text[len] = '\0';
    fclose(file);
    return text;
}

static void file_two_attempts_two_lines(void **unused)
{
    const char *path = test_path(test_tmpdir(), "posts.jsonl");
    char err[512];
    void *state = file_create(path, err, sizeof err);
    struct adapter_result first;
    struct adapter_result second;
    char expected_id[600];
    char *text;
    char *newline;
    json_t *line;

    (void)unused;
    assert_non_null(state);
    first = publish(state, 1);
    second = publish(state, 2);
    adapter_find("file")->destroy(state);

    assert_int_equal(first.outcome, OUTCOME_SUCCESS);
    assert_int_equal(second.outcome, OUTCOME_SUCCESS);
    assert_string_equal(first.error, "");
    snprintf(expected_id, sizeof expected_id, "%s:0", path);
    assert_string_equal(first.post_id, expected_id);

    text = read_text(path);
    newline = strchr(text, '\n');
    assert_non_null(newline);
    snprintf(expected_id, sizeof expected_id, "%s:%td", path,
             newline + 1 - text);
    assert_string_equal(second.post_id, expected_id);
    *newline = '\0';

    line = json_loads(text, 0, NULL);
    assert_non_null(line);
    assert_int_equal(json_integer_value(json_object_get(line, "entry_id")), 7);
    assert_string_equal(json_string_value(json_object_get(line, "content_id")),
                        "post-7");
    assert_string_equal(json_string_value(json_object_get(line, "platform")),
                        "local");
    assert_string_equal(
        json_string_value(json_object_get(line, "idempotency_key")), "key-7");
    assert_int_equal(json_integer_value(json_object_get(line, "attempt")), 1);
    assert_string_equal(
        json_string_value(json_object_get(line, "published_at")),
        "2025-12-05T08:00:00.123Z");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(line, "content"), "text")),
                        "line one\nline two");
    json_decref(line);

    line = json_loads(newline + 1, 0, NULL);
    assert_non_null(line);
    assert_int_equal(json_integer_value(json_object_get(line, "attempt")), 2);
    json_decref(line);

    /* Exactly two lines, each ending in a newline. */
    assert_null(strchr(strchr(newline + 1, '\n') + 1, '\n'));
    free(text);
}

static void file_missing_directory_permanent(void **unused)
{
    const char *dir = test_path(test_tmpdir(), "missing");
    const char *path = test_path(dir, "posts.jsonl");
    char err[512];
    void *state = file_create(path, err, sizeof err);
    struct adapter_result result;

    (void)unused;
    assert_non_null(state);
    result = publish(state, 1);
    adapter_find("file")->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, path));
    assert_non_null(strstr(result.error, "create it"));
}

static void file_unwritable_permanent(void **unused)
{
    const char *dir = test_tmpdir();
    const char *path = test_path(dir, "posts.jsonl");
    char err[512];
    void *state;
    struct adapter_result result;

    (void)unused;
    if (geteuid() != 0) {
        test_write_file(path, "");
        assert_int_equal(chmod(path, 0444), 0);
    } else {
        /* root ignores file modes, but sysfs never lets anyone create a
         * file, so open() fails with EACCES there. */
        struct stat info;

        if (stat("/sys/kernel", &info) != 0)
            skip();
        path = "/sys/pubq-test-posts.jsonl";
    }
    state = file_create(path, err, sizeof err);
    assert_non_null(state);
    result = publish(state, 1);
    adapter_find("file")->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "write access"));
}

static void file_directory_path_permanent(void **unused)
{
    const char *dir = test_tmpdir();
    char err[512];
    void *state = file_create(dir, err, sizeof err);
    struct adapter_result result;

    (void)unused;
    assert_non_null(state);
    result = publish(state, 1);
    adapter_find("file")->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "directory"));
}

/* After an unknown outcome, a line already written is found, not added. */
static void file_unknown_finds_line(void **unused)
{
    const char *path = test_path(test_tmpdir(), "found.jsonl");
    char err[256] = "";
    void *state = file_create(path, err, sizeof err);
    struct adapter_result first;
    struct adapter_result again;
    char *text;

    (void)unused;
    assert_non_null(state);
    assert_int_equal(publish_entry(state, 6, 1, 0, "other").outcome,
                     OUTCOME_SUCCESS);
    first = publish_entry(state, 7, 1, 0, "mine");
    assert_int_equal(first.outcome, OUTCOME_SUCCESS);

    again = publish_entry(state, 7, 2, 1, "mine");
    adapter_find("file")->destroy(state);

    assert_int_equal(again.outcome, OUTCOME_SUCCESS);
    assert_string_equal(again.post_id, first.post_id);
    text = read_text(path);
    assert_int_equal(count_lines(text), 2);
    free(text);
}

/*
 * After an unknown outcome with no line written, the post is appended,
 * even when another post's text contains the entry's key.
 */
static void file_unknown_without_line_posts(void **unused)
{
    const char *path = test_path(test_tmpdir(), "absent.jsonl");
    char err[256] = "";
    void *state = file_create(path, err, sizeof err);
    struct adapter_result result;
    char *text;

    (void)unused;
    assert_non_null(state);
    assert_int_equal(
        publish_entry(state, 6, 1, 0, "\"idempotency_key\":\"key-8\"").outcome,
        OUTCOME_SUCCESS);

    result = publish_entry(state, 8, 2, 1, "mine");
    adapter_find("file")->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    text = read_text(path);
    assert_int_equal(count_lines(text), 2);
    assert_non_null(strstr(text, "\"entry_id\":8"));
    free(text);
}

static void file_create_rejects(void **unused)
{
    char err[512];

    (void)unused;
    assert_null(file_create(NULL, err, sizeof err));
    assert_non_null(strstr(err, "missing option path"));
    assert_null(file_create("", err, sizeof err));
    assert_non_null(strstr(err, "missing option path"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_two_attempts_two_lines),
        cmocka_unit_test(file_missing_directory_permanent),
        cmocka_unit_test(file_unwritable_permanent),
        cmocka_unit_test(file_directory_path_permanent),
        cmocka_unit_test(file_unknown_finds_line),
        cmocka_unit_test(file_unknown_without_line_posts),
        cmocka_unit_test(file_create_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
