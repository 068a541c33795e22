#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "intake/import.h"
#include "test_support.h"

/* 2026-12-01T00:00:00Z. */
#define NOW_MS 1796083200000LL

/* 2026-12-05T08:00:00Z. */
#define DEC_5_MS 1796457600000LL

static struct pubq_config config;
static const char *dir;

static int setup(void **state)
{
    const char *path;
    char err[CONFIG_ERR_MAX];

    (void)state;
    dir = test_tmpdir();
    path = test_path(dir, "pubq.conf");
    test_write_file(path, "[platform outbox]\ntype = file\n"
                          "[platform blog]\ntype = wordpress\n"
                          "[platform masto]\ntype = mastodon\n");
    if (config_load(path, &config, err, sizeof err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    config_free(&config);
    return 0;
}

/* Writes text to NAME in the test directory and imports it. */
static int import_text(const char *name, const char *text,
                       struct intake_job **jobs, size_t *count,
                       struct intake_error *error)
{
    const char *path = test_path(dir, name);

    test_write_file(path, text);
    return import_read_file(path, &config, NULL, NOW_MS, jobs, count, error);
}

static void import_good_csv(void **state)
{
    static const char text[] =
        "id,text,platforms,at,title,link\r\n"
        "post-1,\"Hello, world\",outbox,2026-12-05T09:00:00+01:00,,\r\n"
        "\r\n"
        "post-2,\"Two lines,\r\nwith \"\"quotes\"\"\",outbox; blog,,"
        "\"A title, with comma\",https://example.com/2\r\n"
        ",,,,,\r\n"
        "post-3,plain,outbox blog masto,2020-01-01T00:00:00Z,,\r\n";
    struct intake_job *jobs;
    size_t count;
    struct intake_error error;

    (void)state;
    assert_int_equal(import_text("calendar.csv", text, &jobs, &count, &error),
                     0);
    assert_int_equal(count, 3);

    assert_string_equal(jobs[0].content_id, "post-1");
    assert_string_equal(jobs[0].content_json, "{\"text\":\"Hello, world\"}");
    assert_int_equal(jobs[0].scheduled_at, DEC_5_MS);
    assert_int_equal(jobs[0].platform_count, 1);
    assert_null(jobs[0].event_id);

    assert_string_equal(jobs[1].content_id, "post-2");
    assert_string_equal(jobs[1].content_json,
                        "{\"link\":\"https://example.com/2\","
                        "\"text\":\"Two lines,\\nwith \\\"quotes\\\"\","
                        "\"title\":\"A title, with comma\"}");
    assert_int_equal(jobs[1].scheduled_at, NOW_MS);
    assert_int_equal(jobs[1].platform_count, 2);
    assert_string_equal(jobs[1].platforms[1], "blog");

    assert_int_equal(jobs[2].platform_count, 3);
    assert_string_equal(jobs[2].platforms[2], "masto");
    assert_int_equal(jobs[2].scheduled_at, NOW_MS);
    import_jobs_free(jobs, count);
}

static void import_good_jsonl(void **state)
{
    static const char text[] =
        "{\"id\": \"evt-1\", \"contentItemId\": \"post-1\", \"platforms\": "
        "[\"outbox\"], \"scheduledAt\": \"2026-12-05T08:00:00Z\", "
        "\"content\": {\"text\": \"first\"}}\n"
        "\n"
        "   \n"
        "{\"contentItemId\": \"post-2\", \"platforms\": [\"blog\", "
        "\"outbox\"], \"content\": {\"text\": \"second\", \"tags\": "
        "[\"a\"]}}";
    struct intake_job *jobs;
    size_t count;
    struct intake_error error;

    (void)state;
    assert_int_equal(import_text("calendar.jsonl", text, &jobs, &count, &error),
                     0);
    assert_int_equal(count, 2);
    assert_string_equal(jobs[0].event_id, "evt-1");
    assert_int_equal(jobs[0].scheduled_at, DEC_5_MS);
    assert_null(jobs[1].event_id);
    assert_string_equal(jobs[1].platforms[0], "blog");
    assert_string_equal(jobs[1].content_json,
                        "{\"tags\":[\"a\"],\"text\":\"second\"}");
    import_jobs_free(jobs, count);
}

struct bad_file {
    const char *name;
    const char *text;
    const char *field;
    const char *message;
};

static const struct bad_file bad_files[] = {
    {"bad-row.csv",
     "id,text,platforms\n"
     "post-1,one,outbox\n"
     "post-2,\"two\nlines\",outbox\n"
     "post-3,three,nowhere\n",
     "line 5: platforms", "unknown platform \"nowhere\""},
    {"bad-at.csv",
     "id,text,platforms,at\n"
     "post-1,one,outbox,2026-02-30T10:00:00Z\n",
     "line 2: at", "day 30 does not exist in February 2026"},
    {"long-id.csv",
     "id,text,platforms\n"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     ",one,outbox\n",
     "line 2", "id is 201 bytes; use 1 to 200 bytes"},
    {"empty-text.csv", "id,text,platforms\npost-1,,outbox\n", "line 2: text",
     "write the text to publish in the text column"},
    {"blank-text.csv", "id,text,platforms\npost-1,\"  \t \",outbox\n",
     "line 2: text", "write the text to publish in the text column"},
    {"blank-text.jsonl",
     "{\"contentItemId\": \"a\", \"platforms\": [\"outbox\"], "
     "\"content\": {\"text\": \" \\n \"}}\n",
     "line 1: data.content.text", "empty text"},
    {"bad-link.csv", "id,text,platforms,link\npost-1,one,outbox,ftp://x\n",
     "line 2: link", "invalid URL \"ftp://x\""},
    {"long-event-id.csv",
     "id,text,platforms,event_id\n"
     "post-1,one,outbox,"
     "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
     "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
     "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\n",
     "line 2", "event_id is 201 bytes"},
    {"bad-utf8-event-id.csv",
     "id,text,platforms,event_id\n"
     "post-1,one,outbox,ev\xff" "1\n",
     "line 2: event_id", "invalid UTF-8 at byte 2"},
    {"bidi-event-id.csv",
     "id,text,platforms,event_id\n"
     "post-1,one,outbox,ev\xe2\x80\xae" "id\n",
     "line 2", "because bidi controls and invisible characters make an "
     "event_id look like another"},
    {"bad-row.jsonl",
     "{\"contentItemId\": \"a\", \"platforms\": [\"outbox\"], "
     "\"content\": {\"text\": \"x\"}}\n"
     "\n"
     "{\"contentItemId\": \"b\", \"platforms\": [\"outbox\", \"outbox\"], "
     "\"content\": {\"text\": \"x\"}}\n",
     "line 3: data.platforms[1]", "appears twice"},
    {"bad-json.jsonl", "{\"contentItemId\": \n", "line 1", "invalid JSON"},
    {"nul.jsonl",
     "{\"contentItemId\": \"a\", \"platforms\": [\"outbox\"], "
     "\"content\": {\"text\": \"a\\u0000b\"}}\n",
     "line 1", "NUL characters are not allowed in text, so remove them"},
    {"bad-id.jsonl",
     "{\"id\": 5, \"contentItemId\": \"a\", \"platforms\": [\"outbox\"], "
     "\"content\": {\"text\": \"x\"}}\n",
     "line 1: id", "id must be a string"},
    {"fields.csv", "id,text,platforms\npost-1,a,b,outbox\n", "line 2",
     "4 fields, but the header has 3"},
    {"column.csv", "id,text,platforms,when\n", "line 1",
     "unknown column \"when\""},
    {"missing.csv", "id,text\npost-1,a\n", "line 1",
     "missing column \"platforms\""},
    {"quote.csv", "id,text,platforms\npost-1,\"open,outbox\n", "line 2",
     "unterminated quoted field"},
    {"stray.csv", "id,text,platforms\npost-1,a\"b\"c,outbox\n", "line 2",
     "invalid CSV"},
    {"repeat-id.jsonl",
     "{\"id\": \"same\", \"contentItemId\": \"a\", \"platforms\": "
     "[\"outbox\"], \"content\": {\"text\": \"x\"}}\n"
     "{\"id\": \"other\", \"contentItemId\": \"b\", \"platforms\": "
     "[\"outbox\"], \"content\": {\"text\": \"x\"}}\n"
     "{\"id\": \"same\", \"contentItemId\": \"c\", \"platforms\": "
     "[\"outbox\"], \"content\": {\"text\": \"x\"}}\n",
     "line 3", "id \"same\" repeats line 1; give each row its own id"},
    {"repeat-id.csv",
     "id,text,platforms,event_id\n"
     "post-1,one,outbox,same\n"
     "post-2,\"two\nlines\",outbox,\n"
     "post-3,three,outbox,same\n",
     "line 5",
     "event_id \"same\" repeats line 2; give each row its own event_id"},
    {"calendar.txt", "id,text,platforms\n", "file", "unknown file type"},
    {"empty.csv", "", "file", "contains no rows"},
    {"header-only.csv", "id,text,platforms\n", "file", "contains no rows"},
    {"empty.jsonl", "\n\n", "file", "contains no rows"},
};

static void import_rejects_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        const struct bad_file *c = &bad_files[i];
        struct intake_job *jobs = (struct intake_job *)&jobs;
        size_t count = 99;
        struct intake_error error;

        print_message("case %s\n", c->name);
        assert_int_equal(import_text(c->name, c->text, &jobs, &count, &error),
                         -1);
        print_message("  -> %s: %s\n", error.field, error.message);
        assert_string_equal(error.field, c->field);
        assert_non_null(strstr(error.message, c->message));
        assert_null(jobs);
        assert_int_equal(count, 0);
    }
}

static void import_missing_file(void **state)
{
    struct intake_job *jobs;
    size_t count;
    struct intake_error error;

    (void)state;
    assert_int_equal(import_read_file(test_path(dir, "absent.csv"), &config,
                                      NULL, NOW_MS, &jobs, &count, &error),
                     -1);
    assert_string_equal(error.field, "file");
    assert_non_null(strstr(error.message, "failed to open"));
}

static void import_row_too_long(void **state)
{
    size_t length = IMPORT_MAX_ROW_BYTES + 100;
    char *text = malloc(length + 64);
    struct intake_job *jobs;
    size_t count;
    struct intake_error error;

    (void)state;
    assert_non_null(text);
    snprintf(text, 64, "id,text,platforms\npost-1,\"");
    memset(text + strlen(text), 'a', length);
    snprintf(text + strlen("id,text,platforms\npost-1,\"") + length, 32,
             "\",outbox\n");

    assert_int_equal(import_text("long.csv", text, &jobs, &count, &error), -1);
    free(text);
    assert_string_equal(error.field, "line 2");
    assert_non_null(strstr(error.message, "longer than 1048576 bytes"));
}

static void import_multiline_row_too_large(void **state)
{
    const char *head = "id,text,platforms\npost-1,\"";
    size_t lines = 20;
    size_t line_length = IMPORT_MAX_ROW_BYTES / 16;
    char *text = malloc(strlen(head) + lines * (line_length + 1) + 32);
    char *cursor;
    struct intake_job *jobs;
    size_t count;
    struct intake_error error;

    (void)state;
    assert_non_null(text);
    cursor = text + snprintf(text, 64, "%s", head);
    for (size_t i = 0; i < lines; i++) {
        memset(cursor, 'a', line_length);
        cursor[line_length] = '\n';
        cursor += line_length + 1;
    }
    snprintf(cursor, 32, "\",outbox\n");

    assert_int_equal(import_text("tall.csv", text, &jobs, &count, &error), -1);
    free(text);
    assert_string_equal(error.field, "line 2");
    assert_non_null(strstr(error.message, "row larger than"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(import_good_csv),
        cmocka_unit_test(import_good_jsonl),
        cmocka_unit_test(import_rejects_bad_files),
        cmocka_unit_test(import_missing_file),
        cmocka_unit_test(import_row_too_long),
        cmocka_unit_test(import_multiline_row_too_large),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
