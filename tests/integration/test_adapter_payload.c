/*
 * The payload of the webhook and command adapters, written by hand,
 * against the text that jansson's json_pack and json_dumps give for the
 * same object, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "publish/adapter.h"
#include "publish/adapter_payload.h"

/* The payload as jansson writes it, or NULL where json_pack fails. */
static char *jansson_payload(const struct entry *entry, json_t *content)
{
    /* clang-format off */
    json_t *payload = json_pack("{s:I, s:s, s:s, s:I, s:s, s:O}",
                                "entry_id", (json_int_t)entry->id,
                                "content_id", entry->content_id,
                                "platform", entry->platform,
                                "attempt", (json_int_t)entry->attempt_count,
                                "idempotency_key", entry->idempotency_key,
                                "content", content);
    /* clang-format on */
    char *text;

    if (payload == NULL)
        return NULL;
    text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    return text;
}

static struct entry sample_entry(const char *content_id, const char *platform)
{
    struct entry entry = {.id = 9007199254740993LL, .attempt_count = 3};

    snprintf(entry.content_id, sizeof entry.content_id, "%s", content_id);
    snprintf(entry.platform, sizeof entry.platform, "%s", platform);
    snprintf(entry.idempotency_key, sizeof entry.idempotency_key,
             "pubq-9007199254740993-7f3a");
    return entry;
}

static void expect_same_as_jansson(const struct entry *entry,
                                   const char *content_json)
{
    json_t *content = json_loads(content_json, 0, NULL);
    struct publish_attempt attempt = {.entry = entry, .content = content};
    size_t len = 0;
    char *expected;
    char *text;

    assert_non_null(content);
    expected = jansson_payload(entry, content);
    text = adapter_payload_dump(&attempt, &len);
    assert_non_null(expected);
    assert_non_null(text);
    assert_string_equal(text, expected);
    assert_int_equal(len, strlen(expected));
    free(text);
    free(expected);
    json_decref(content);
}

static void payload_plain_text(void **unused)
{
    struct entry entry = sample_entry("post-1", "hook");

    (void)unused;
    expect_same_as_jansson(&entry, "{\"text\":\"Hello, world\"}");
}

static void payload_escaped_strings(void **unused)
{
    struct entry entry =
        sample_entry("a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f", "hook \"x\"");

    (void)unused;
    expect_same_as_jansson(&entry, "{\"text\":\"line\\nnext \\u0002\"}");
}

static void payload_unicode_kept(void **unused)
{
    /* Two-, three- and four-byte characters, and U+2028. */
    struct entry entry =
        sample_entry("caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80"
                     "-\xe2\x80\xa8",
                     "h\xc3\xbc"
                     "b");

    (void)unused;
    expect_same_as_jansson(&entry,
                           "{\"text\":\"\\u00e9\\ud83d\\ude00\",\"n\":[1,2.5,"
                           "true,null,{\"k\":\"v\"}],\"z\":0}");
}

/* Text json_pack rejects: the payload fails instead of sending it. */
static void payload_invalid_utf8_rejected(void **unused)
{
    static const char *const invalid[] = {
        "\x80",             /* lone continuation byte */
        "\xc0\xaf",         /* overlong "/" */
        "\xe0\x80\xaf",     /* overlong, three bytes */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xc3",             /* cut short */
        "\xe2\x82",         /* cut short */
    };
    json_t *content = json_pack("{s:s}", "text", "hi");

    (void)unused;
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        struct entry entry = sample_entry(invalid[i], "hook");
        struct publish_attempt attempt = {.entry = &entry, .content = content};
        size_t len = 0;

        assert_null(jansson_payload(&entry, content));
        assert_null(adapter_payload_dump(&attempt, &len));
    }
    json_decref(content);
}

static void payload_needs_object(void **unused)
{
    struct entry entry = sample_entry("post-1", "hook");
    json_t *array = json_pack("[i]", 1);
    struct publish_attempt attempt = {.entry = &entry, .content = array};
    struct publish_attempt missing = {.entry = &entry, .content = NULL};
    size_t len = 0;

    (void)unused;
    assert_null(adapter_payload_dump(&attempt, &len));
    assert_null(adapter_payload_dump(&missing, &len));
    json_decref(array);
}

/* A content larger than the first buffer makes the text grow. */
static void payload_large_content(void **unused)
{
    struct entry entry = sample_entry("post-1", "hook");
    size_t size = 100000;
    char *text = malloc(size + 32);

    (void)unused;
    assert_non_null(text);
    memcpy(text, "{\"text\":\"", 9);
    memset(text + 9, 'x', size);
    memcpy(text + 9 + size, "\"}", 3);
    expect_same_as_jansson(&entry, text);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(payload_plain_text),
        cmocka_unit_test(payload_escaped_strings),
        cmocka_unit_test(payload_unicode_kept),
        cmocka_unit_test(payload_invalid_utf8_rejected),
        cmocka_unit_test(payload_needs_object),
        cmocka_unit_test(payload_large_content),
    };

    return cmocka_run_group_tests_name("adapter_payload", tests, NULL, NULL);
}
