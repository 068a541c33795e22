#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/zone.h"
#include "intake/intake.h"
#include "test_support.h"

/* 2026-12-01T00:00:00Z, before every future time used below. */
#define NOW_MS 1796083200000LL

static const char config_text[] =
    "[platform outbox]\ntype = file\n"
    "[platform mastodon-main]\ntype = mastodon\nmax_retries = 5\n"
    "[platform sky]\ntype = bluesky\n"
    "[platform chat]\ntype = discord\n"
    "[platform tg]\ntype = telegram\n"
    "[platform team]\ntype = slack\n";

struct fixture {
    struct pubq_config config;
    struct zone *berlin;
};

static int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof *fixture);
    const char *path = test_path(test_tmpdir(), "pubq.conf");
    char err[CONFIG_ERR_MAX];

    test_write_file(path, config_text);
    if (fixture == NULL ||
        config_load(path, &fixture->config, err, sizeof err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    fixture->berlin = zone_load("Europe/Berlin", err, sizeof err);
    if (fixture->berlin == NULL) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;

    config_free(&fixture->config);
    zone_free(fixture->berlin);
    free(fixture);
    return 0;
}

/* Parses `data` with intake; returns its result. */
static int parse(struct fixture *fixture, json_t *data, int with_zone,
                 struct intake_job *job, struct intake_error *error)
{
    int result = intake_parse_scheduled(data, NULL, &fixture->config,
                                        with_zone ? fixture->berlin : NULL,
                                        NOW_MS, job, error);

    json_decref(data);
    return result;
}

static json_t *load_json(const char *text)
{
    json_error_t json_error;
    json_t *value = json_loads(text, JSON_ALLOW_NUL, &json_error);

    if (value == NULL)
        fail_msg("bad test JSON: %s: %s", json_error.text, text);
    return value;
}

/* A data object with one platform and the given text. */
static json_t *data_with_text(const char *platform, const char *text)
{
    return json_pack("{s:s, s:[s], s:{s:s}}", "contentItemId", "post-1",
                     "platforms", platform, "content", "text", text);
}

static void intake_valid_minimal(void **state)
{
    struct intake_job job;
    struct intake_error error;
    struct job_request request;

    assert_int_equal(
        parse(*state,
              load_json("{\"contentItemId\": \"post-42\", \"platforms\": "
                        "[\"outbox\", \"mastodon-main\"], \"content\": "
                        "{\"text\": \"hello\", \"meta\": {\"extra\": 1}}}"),
              0, &job, &error),
        0);

    assert_string_equal(job.content_id, "post-42");
    assert_null(job.event_id);
    assert_int_equal(job.scheduled_at, NOW_MS);
    assert_int_equal(job.platform_count, 2);
    assert_string_equal(job.platforms[0], "outbox");
    assert_string_equal(job.platforms[1], "mastodon-main");
    assert_int_equal(job.max_retries, 5);
    assert_string_equal(job.content_json,
                        "{\"meta\":{\"extra\":1},\"text\":\"hello\"}");

    intake_job_to_request(&job, "cli", &request);
    assert_string_equal(request.content_id, "post-42");
    assert_int_equal(request.platform_count, 2);
    assert_string_equal(request.platforms[1], "mastodon-main");
    assert_string_equal(request.source, "cli");
    assert_non_null(request.platform_max_retries);
    assert_int_equal(request.platform_max_retries[0], 3);
    assert_int_equal(request.platform_max_retries[1], 5);
    intake_job_clear(&job);
}

static void intake_event_id_kept(void **state)
{
    struct fixture *fixture = *state;
    struct intake_job job;
    struct intake_error error;
    json_t *data = data_with_text("outbox", "hi");

    assert_int_equal(intake_parse_scheduled(data, "evt-1", &fixture->config,
                                            NULL, NOW_MS, &job, &error),
                     0);
    assert_string_equal(job.event_id, "evt-1");
    intake_job_clear(&job);

    assert_int_equal(intake_parse_scheduled(data, "", &fixture->config, NULL,
                                            NOW_MS, &job, &error),
                     -1);
    assert_string_equal(error.field, "id");
    json_decref(data);
}

struct bad_case {
    const char *json;
    int with_zone;
    const char *field;
    const char *message; /* part of the message */
};

static const struct bad_case bad_cases[] = {
    {"[]", 0, "data", "data must be an object"},
    {"{\"platforms\": [\"outbox\"], \"content\": {\"text\": \"x\"}}", 0,
     "data.contentItemId", "missing data.contentItemId"},
    {"{\"contentItemId\": 42, \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"x\"}}",
     0, "data.contentItemId", "must be a string"},
    {"{\"contentItemId\": \"\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"x\"}}",
     0, "data.contentItemId", "use 1 to 200 bytes"},
    {"{\"contentItemId\": \"a\\u0007b\", \"platforms\": [\"outbox\"], "
     "\"content\": {\"text\": \"x\"}}",
     0, "data.contentItemId", "control character U+0007"},
    {"{\"contentItemId\": \"p\", \"platforms\": [], \"content\": "
     "{\"text\": \"x\"}}",
     0, "data.platforms", "empty platform list"},
    {"{\"contentItemId\": \"p\", \"content\": {\"text\": \"x\"}}", 0,
     "data.platforms", "missing platforms"},
    {"{\"contentItemId\": \"p\", \"platforms\": \"outbox\", \"content\": "
     "{\"text\": \"x\"}}",
     0, "data.platforms", "must be an array"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"blog\"], \"content\": "
     "{\"text\": \"x\"}}",
     0, "data.platforms[0]", "unknown platform \"blog\""},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\", \"outbox\"], "
     "\"content\": {\"text\": \"x\"}}",
     0, "data.platforms[1]",
     "platform \"outbox\" appears twice; list each platform once"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\", 7], "
     "\"content\": {\"text\": \"x\"}}",
     0, "data.platforms[1]", "must be a string"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"]}", 0,
     "data.content", "missing content"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"title\": \"t\"}}",
     0, "data.content.text", "missing text"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"\"}}",
     0, "data.content.text", "empty text"},
    /* Whitespace alone is empty text too: ASCII and Unicode spaces. */
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"   \"}}",
     0, "data.content.text", "empty text"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \" \\n\\t\\n \"}}",
     0, "data.content.text", "empty text"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"\\u00a0\\u2003\\u3000\"}}",
     0, "data.content.text", "empty text"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"a\\u0000b\"}}",
     0, "data.content.text", "control character U+0000"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"bell\\u0007\"}}",
     0, "data.content.text", "only newline and tab are allowed"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"x\", \"link\": \"ftp://example.com/a\"}}",
     0, "data.content.link", "use an http:// or https:// URL"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"x\", \"titel\": \"typo\"}}",
     0, "data.content.titel", "unknown field \"titel\" in data.content"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"x\", \"media\": [\"https://example.com/a.png\", "
     "\"https:///b.png\"]}}",
     0, "data.content.media[1]", "missing host"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"x\", \"tags\": [\"a\", 3]}}",
     0, "data.content.tags[1]", "must be a string"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], \"content\": "
     "{\"text\": \"x\", \"meta\": []}}",
     0, "data.content.meta", "must be an object"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], "
     "\"scheduled_at\": \"2026-12-05T09:00:00Z\", \"content\": "
     "{\"text\": \"x\"}}",
     0, "data.scheduled_at", "unknown field"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], "
     "\"scheduledAt\": \"2026-12-05T09:00:00\", \"content\": "
     "{\"text\": \"x\"}}",
     0, "data.scheduledAt", "2026-12-05T09:00:00"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], "
     "\"scheduledAt\": \"2026-02-30T10:00:00Z\", \"content\": "
     "{\"text\": \"x\"}}",
     1, "data.scheduledAt", "2026-02-30T10:00:00Z"},
    {"{\"contentItemId\": \"p\", \"platforms\": [\"outbox\"], "
     "\"scheduledAt\": 1796457600, \"content\": {\"text\": \"x\"}}",
     0, "data.scheduledAt", "must be a string"},
};

static void intake_rejects_bad_data(void **state)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct intake_job job;
        struct intake_error error;

        print_message("case %zu: %s\n", i, c->field);
        assert_int_equal(
            parse(*state, load_json(c->json), c->with_zone, &job, &error), -1);
        print_message("  -> %s: %s\n", error.field, error.message);
        assert_string_equal(error.field, c->field);
        assert_non_null(strstr(error.message, c->message));
        assert_null(job.content_id);
        assert_null(job.platforms);
    }
}

static void intake_invalid_utf8(void **state)
{
    struct intake_job job;
    struct intake_error error;
    json_t *data = data_with_text("outbox", "x");

    json_object_set_new(json_object_get(data, "content"), "text",
                        json_stringn_nocheck("caf\xc3(", 5));
    assert_int_equal(parse(*state, data, 0, &job, &error), -1);
    assert_string_equal(error.field, "data.content.text");
    assert_non_null(strstr(error.message, "invalid UTF-8 at byte 3"));
}

static void intake_newline_and_tab_allowed(void **state)
{
    struct intake_job job;
    struct intake_error error;

    assert_int_equal(
        parse(*state, data_with_text("outbox", "a\n\tb"), 0, &job, &error), 0);
    intake_job_clear(&job);
}

/* Bidi controls and other Unicode format characters (category Cf). */
static void intake_ids_reject_format_chars(void **state)
{
    static const struct {
        const char *id;
        const char *code_point;
    } cases[] = {
        {"post\u202E1", "U+202E"}, {"\u202Aa", "U+202A"},
        {"a\u2066b", "U+2066"},    {"a\u2069", "U+2069"},
        {"a\u200Bb", "U+200B"},    {"a\uFEFFb", "U+FEFF"},
        {"a\u00ADb", "U+00AD"},    {"a\u061Cb", "U+061C"},
    };
    struct fixture *fixture = *state;
    struct intake_job job;
    struct intake_error error;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *data = data_with_text("outbox", "x");

        print_message("case %s\n", cases[i].code_point);
        json_object_set_new(data, "contentItemId", json_string(cases[i].id));
        assert_int_equal(parse(*state, data, 0, &job, &error), -1);
        print_message("  -> %s: %s\n", error.field, error.message);
        assert_string_equal(error.field, "data.contentItemId");
        assert_non_null(strstr(error.message, cases[i].code_point));
        assert_non_null(strstr(error.message, "format character"));

        data = data_with_text("outbox", "x");
        assert_int_equal(intake_parse_scheduled(data, cases[i].id,
                                                &fixture->config, NULL, NOW_MS,
                                                &job, &error),
                         -1);
        assert_string_equal(error.field, "id");
        assert_non_null(strstr(error.message, cases[i].code_point));
        json_decref(data);
    }

    /* The same characters are fine in the text, as in Arabic or Hebrew. */
    assert_int_equal(
        parse(*state, data_with_text("outbox", "\u202Babc"), 0, &job, &error),
        0);
    intake_job_clear(&job);
    assert_int_equal(parse(*state,
                           json_pack("{s:s, s:[s], s:{s:s}}", "contentItemId",
                                     "caf\xC3\xA9-\xE6\x97\xA5", "platforms",
                                     "outbox", "content", "text", "x"),
                           0, &job, &error),
                     0);
    intake_job_clear(&job);
}

/* Returns a heap string of `count` copies of `unit`. */
static char *repeat(const char *unit, size_t count)
{
    size_t length = strlen(unit);
    char *text = malloc(length * count + 1);

    assert_non_null(text);
    for (size_t i = 0; i < count; i++)
        memcpy(text + i * length, unit, length);
    text[length * count] = '\0';
    return text;
}

/* Parses `text` for one platform; frees text. */
static int parse_text(void **state, const char *platform, char *text,
                      struct intake_error *error)
{
    struct intake_job job;
    int result = parse(*state, data_with_text(platform, text), 0, &job, error);

    free(text);
    intake_job_clear(&job);
    return result;
}

static void intake_mastodon_limit(void **state)
{
    struct intake_error error;
    char *letters = repeat("a", 476);
    char *text;
    size_t length;

    assert_int_equal(
        parse_text(state, "mastodon-main", repeat("a", 500), &error), 0);

    assert_int_equal(
        parse_text(state, "mastodon-main", repeat("a", 501), &error), -1);
    assert_string_equal(error.field, "data.content.text");
    assert_non_null(strstr(error.message, "\"mastodon-main\""));
    assert_non_null(strstr(error.message, "type mastodon"));
    assert_non_null(strstr(error.message, "501"));
    assert_non_null(strstr(error.message, "limit of 500"));

    /* A 200-byte URL counts as 23: 23 + 1 + 476 = 500. */
    length = 300 + 476 + 2;
    text = malloc(length);
    assert_non_null(text);
    snprintf(text, length, "https://example.com/%0180d %s", 0, letters);
    assert_int_equal(strlen(text), 200 + 1 + 476);
    assert_int_equal(parse_text(state, "mastodon-main", text, &error), 0);
    free(letters);

    /* A mention @user@domain counts as @user: 6 + 1 + 493 = 500. */
    letters = repeat("b", 493);
    text = malloc(600);
    assert_non_null(text);
    snprintf(text, 600, "@alice@social.example.org %s", letters);
    assert_int_equal(parse_text(state, "mastodon-main", text, &error), 0);
    free(letters);
}

static void intake_bluesky_limit(void **state)
{
    struct intake_error error;

    assert_int_equal(parse_text(state, "sky", repeat("a", 301), &error), -1);
    assert_non_null(strstr(error.message, "301 graphemes"));
    assert_non_null(strstr(error.message, "limit of 300"));

    /* Thumbs up with a skin tone: two code points, one grapheme. */
    assert_int_equal(parse_text(state, "sky",
                                repeat("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", 300),
                                &error),
                     0);
    assert_int_equal(parse_text(state, "sky",
                                repeat("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", 301),
                                &error),
                     -1);

    /* 300 family emoji are 300 graphemes but 7500 bytes. */
    assert_int_equal(
        parse_text(state, "sky",
                   repeat("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9"
                          "\xe2\x80\x8d\xf0\x9f\x91\xa7\xe2\x80\x8d\xf0\x9f"
                          "\x91\xa6",
                          300),
                   &error),
        -1);
    assert_non_null(strstr(error.message, "7500 bytes of UTF-8"));
}

static void intake_other_limits(void **state)
{
    struct intake_error error;

    assert_int_equal(parse_text(state, "chat", repeat("a", 2000), &error), 0);
    assert_int_equal(parse_text(state, "chat", repeat("a", 2001), &error), -1);
    assert_non_null(strstr(error.message, "limit of 2000"));

    /* An emoji outside the BMP is two UTF-16 code units. */
    assert_int_equal(
        parse_text(state, "tg", repeat("\xf0\x9f\x98\x80", 2048), &error), 0);
    assert_int_equal(
        parse_text(state, "tg", repeat("\xf0\x9f\x98\x80", 2049), &error), -1);
    assert_non_null(strstr(error.message, "4098 UTF-16 code units"));

    assert_int_equal(parse_text(state, "team", repeat("a", 40001), &error), -1);
    assert_int_equal(parse_text(state, "outbox", repeat("a", 100000), &error),
                     0);
}

static json_t *data_at(const char *scheduled_at)
{
    return json_pack("{s:s, s:[s], s:s, s:{s:s}}", "contentItemId", "p",
                     "platforms", "outbox", "scheduledAt", scheduled_at,
                     "content", "text", "x");
}

static void intake_scheduled_at(void **state)
{
    struct intake_job job;
    struct intake_error error;

    assert_int_equal(
        parse(*state, data_at("2026-12-05T09:00:00"), 0, &job, &error), -1);
    assert_string_equal(error.field, "data.scheduledAt");

    assert_int_equal(
        parse(*state, data_at("2026-12-05T09:00:00"), 1, &job, &error), 0);
    assert_int_equal(job.scheduled_at, 1796457600000LL);
    intake_job_clear(&job);

    assert_int_equal(
        parse(*state, data_at("2026-12-05T09:00:00+01:00"), 0, &job, &error),
        0);
    assert_int_equal(job.scheduled_at, 1796457600000LL);
    intake_job_clear(&job);

    assert_int_equal(
        parse(*state, data_at("2020-01-01T00:00:00Z"), 0, &job, &error), 0);
    assert_int_equal(job.scheduled_at, NOW_MS);
    intake_job_clear(&job);

    /* The earliest time pubq accepts is long past: it means now. */
    assert_int_equal(
        parse(*state, data_at("1970-01-01T00:00:00Z"), 0, &job, &error), 0);
    assert_int_equal(job.scheduled_at, NOW_MS);
    intake_job_clear(&job);

    assert_int_equal(parse(*state, data_at("9999-12-31T23:59:59.999-23:59"), 0,
                           &job, &error),
                     -1);
    assert_string_equal(error.field, "data.scheduledAt");
    assert_non_null(strstr(error.message, "after 9999-12-31T23:59:59.999Z"));

    assert_int_equal(
        parse(*state,
              load_json("{\"contentItemId\": \"p\", \"platforms\": "
                        "[\"outbox\"], \"scheduledAt\": null, \"content\": "
                        "{\"text\": \"x\"}}"),
              0, &job, &error),
        0);
    assert_int_equal(job.scheduled_at, NOW_MS);
    intake_job_clear(&job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intake_valid_minimal),
        cmocka_unit_test(intake_event_id_kept),
        cmocka_unit_test(intake_rejects_bad_data),
        cmocka_unit_test(intake_invalid_utf8),
        cmocka_unit_test(intake_ids_reject_format_chars),
        cmocka_unit_test(intake_newline_and_tab_allowed),
        cmocka_unit_test(intake_mastodon_limit),
        cmocka_unit_test(intake_bluesky_limit),
        cmocka_unit_test(intake_other_limits),
        cmocka_unit_test(intake_scheduled_at),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
