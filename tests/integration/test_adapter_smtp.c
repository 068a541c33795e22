/*
 * The smtp adapter against a real SMTP server on 127.0.0.1: aiosmtpd
 * run by tests/support/smtp_sink.py (Debian package python3-aiosmtpd),
 * which reads each received message with Python's email package. The
 * tests check the MIME message as a reader would see it, and how each
 * server reply is classified.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "publish/adapter.h"
#include "test_support.h"

#define PASSWORD_VAR "PUBQ_TEST_SMTP_PASSWORD"
#define PASSWORD "s3cret-mail-pass"
#define FIXED_NOW 1700000000000LL /* Tue, 14 Nov 2023 22:13:20 GMT */
#define MESSAGE_ID "<pubq-42-7f3a@example.test>"
#define POLL_MS 20
#define START_WAIT_MS 15000
#define STOP_WAIT_MS 5000

/* One smtp_sink.py process and the directory it writes messages to. */
struct sink {
    pid_t pid;
    const char *dir;
    int port;
};

static struct sink plain_sink;
static struct sink auth_sink;

static void sleep_ms(long ms)
{
    struct timespec wait = {.tv_sec = ms / 1000,
                            .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&wait, NULL);
}

static const char *sink_script(void)
{
    static char path[1024];
    const char *source = getenv("PUBQ_SOURCE_DIR");

    const char *slash = strrchr(__FILE__, '/');

    if (source != NULL)
        snprintf(path, sizeof path, "%s/tests/support/smtp_sink.py", source);
    else if (slash != NULL)
        snprintf(path, sizeof path, "%.*s/../support/smtp_sink.py",
                 (int)(slash - __FILE__), __FILE__);
    else
        snprintf(path, sizeof path, "../support/smtp_sink.py");
    return path;
}

/* Reads the port the sink wrote, or 0 while the file is missing. */
static int read_port(const char *file)
{
    FILE *in = fopen(file, "r");
    char text[16] = "";
    long port;

    if (in == NULL)
        return 0;
    if (fgets(text, sizeof text, in) == NULL)
        text[0] = '\0';
    fclose(in);
    port = strtol(text, NULL, 10);
    return port > 0 && port < 65536 ? (int)port : 0;
}

/* Starts smtp_sink.py with extra arguments (NULL-terminated). */
static int sink_start(struct sink *sink, const char *const *extra)
{
    const char *python = getenv("PUBQ_PYTHON");
    const char *port_file;
    const char *argv[24];
    size_t argc = 0;
    int status;

    python = python != NULL ? python : "/usr/bin/python3";
    sink->dir = test_tmpdir();
    port_file = test_path(test_tmpdir(), "port");
    argv[argc++] = python;
    argv[argc++] = sink_script();
    argv[argc++] = "--dir";
    argv[argc++] = sink->dir;
    argv[argc++] = "--port-file";
    argv[argc++] = port_file;
    for (size_t i = 0; extra[i] != NULL && argc < 23; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;

    sink->pid = fork();
    if (sink->pid == 0) {
        execv(python, (char *const *)argv);
        _exit(127);
    }
    for (int waited = 0; sink->pid > 0 && waited < START_WAIT_MS;
         waited += POLL_MS) {
        sink->port = read_port(port_file);
        if (sink->port != 0)
            return 0;
        if (waitpid(sink->pid, &status, WNOHANG) == sink->pid)
            break;
        sleep_ms(POLL_MS);
    }
    fprintf(stderr,
            "smtp_sink.py did not start; it needs %s with the "
            "aiosmtpd module (Debian package python3-aiosmtpd)\n",
            python);
    return -1;
}

static void sink_stop(struct sink *sink)
{
    int status;

    if (sink->pid <= 0)
        return;
    kill(sink->pid, SIGTERM);
    for (int waited = 0; waited < STOP_WAIT_MS; waited += POLL_MS) {
        if (waitpid(sink->pid, &status, WNOHANG) == sink->pid)
            return;
        sleep_ms(POLL_MS);
    }
    kill(sink->pid, SIGKILL);
    waitpid(sink->pid, &status, 0);
}

/* Returns how many messages the sink has stored. */
static int sink_count(const struct sink *sink)
{
    char name[32];
    struct stat info;
    int count = 0;

    for (;;) {
        snprintf(name, sizeof name, "%d.json", count + 1);
        if (stat(test_path(sink->dir, name), &info) != 0)
            return count;
        count++;
    }
}

/* Loads what the email package read from message number `n`. */
static json_t *sink_message(const struct sink *sink, int n)
{
    char name[32];
    json_error_t error;
    json_t *message;

    snprintf(name, sizeof name, "%d.json", n);
    message = json_load_file(test_path(sink->dir, name), 0, &error);
    assert_non_null(message);
    return message;
}

static const char *header(const json_t *message, const char *name)
{
    return json_string_value(
        json_object_get(json_object_get(message, "headers"), name));
}

/* A platform section built in memory, as config_load would produce. */
struct test_platform {
    struct platform_config config;
    struct config_option options[10];
    char text[10][2][256];
};

static void platform_set(struct test_platform *platform, const char *key,
                         const char *value)
{
    size_t i = platform->config.option_count++;

    assert_true(i < 10);
    snprintf(platform->text[i][0], sizeof platform->text[i][0], "%s", key);
    snprintf(platform->text[i][1], sizeof platform->text[i][1], "%s", value);
    platform->options[i].key = platform->text[i][0];
    platform->options[i].value = platform->text[i][1];
}

/* Options for a sink, without TLS, which the test server lacks. */
static void platform_default(struct test_platform *platform,
                             const struct sink *sink, const char *to)
{
    char url[64];

    memset(platform, 0, sizeof *platform);
    platform->config.name = "letter";
    platform->config.type = "smtp";
    platform->config.options = platform->options;
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", sink->port);
    platform_set(platform, "url", url);
    platform_set(platform, "starttls", "off");
    platform_set(platform, "from", "news@example.test");
    platform_set(platform, "to", to);
    platform_set(platform, "timeout", "20s");
}

static void *create_adapter(struct test_platform *platform)
{
    char err[512] = "";
    void *state = NULL;

    assert_int_equal(adapter_find("smtp")->create(&platform->config, &state,
                                                  err, sizeof err),
                     0);
    return state;
}

static struct entry test_entry(void)
{
    struct entry entry = {.id = 42, .attempt_count = 1};

    snprintf(entry.content_id, sizeof entry.content_id, "post-1");
    snprintf(entry.platform, sizeof entry.platform, "letter");
    snprintf(entry.idempotency_key, sizeof entry.idempotency_key,
             "pubq-42-7f3a");
    return entry;
}

/* Runs one attempt the way the engine does, with curl_easy_perform. */
static void run_attempt(void *state, const json_t *content,
                        struct adapter_result *result)
{
    const struct adapter_ops *ops = adapter_find("smtp");
    struct entry entry = test_entry();
    struct publish_attempt attempt = {
        .entry = &entry,
        .content = content,
        .now = FIXED_NOW,
    };
    CURL *easy = NULL;
    CURL *next = NULL;
    enum adapter_step step;

    attempt.result.hint_ms = -1;
    step = adapter_start(ops, state, &attempt, &easy);
    if (step == ADAPTER_HTTP) {
        assert_non_null(easy);
        step = adapter_on_response(ops, state, &attempt, easy,
                                   curl_easy_perform(easy), &next);
        assert_null(next);
    }
    assert_int_equal(step, ADAPTER_DONE);
    ops->end(state, &attempt);
    *result = attempt.result;

    assert_null(strstr(result->error, PASSWORD));
    assert_null(strstr(result->pause_reason, PASSWORD));
}

/* Sends a short post to `to` on the plain sink. */
static void send_to(const char *to, struct adapter_result *result)
{
    struct test_platform platform;
    json_t *content = json_pack("{s:s}", "text", "Short note");
    void *state;

    platform_default(&platform, &plain_sink, to);
    state = create_adapter(&platform);
    run_attempt(state, content, result);
    adapter_find("smtp")->destroy(state);
    json_decref(content);
}

static int group_setup(void **state)
{
    static const char *const plain[] = {"--reject-rcpt",
                                        "busy@example.test=450",
                                        "--reject-rcpt",
                                        "gone@example.test=550",
                                        "--reject-data",
                                        "spam@example.test=554",
                                        "--reject-data",
                                        "later@example.test=451",
                                        "--reject-data",
                                        "drop@example.test=drop",
                                        NULL};
    static const char *const auth[] = {"--auth", "mailer:" PASSWORD, NULL};

    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setenv(PASSWORD_VAR, PASSWORD, 1);
    signal(SIGPIPE, SIG_IGN);
    if (sink_start(&plain_sink, plain) != 0 ||
        sink_start(&auth_sink, auth) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sink_stop(&plain_sink);
    sink_stop(&auth_sink);
    curl_global_cleanup();
    return 0;
}

/* Checks RFC 2047 limits on the raw Subject lines of a message. */
static void check_subject_lines(const char *raw_headers)
{
    const char *line = strstr(raw_headers, "Subject: ");

    assert_non_null(line);
    for (;;) {
        size_t len = strcspn(line, "\r\n");
        const char *word = line;

        assert_true(len <= 76);
        while ((word = strstr(word, "=?UTF-8?B?")) != NULL &&
               word < line + len) {
            const char *end = strstr(word + 10, "?=");

            assert_non_null(end);
            assert_true(end + 2 - word <= 75);
            word = end + 2;
        }
        line += len;
        if (strncmp(line, "\r\n ", 3) != 0)
            break;
        line += 2;
    }
}

static void smtp_sends_mime_message(void **unused)
{
    static const char title[] =
        "Grüße aus Köln: ein sehr langer Betreff, der über mehrere "
        "encoded-words gefaltet werden muss 🎉 – ende";
    static const char text[] =
        "Hallo Welt\n"
        ".a line that starts with a dot\n"
        "trailing space \n"
        "a=b and a long line that goes past seventy-six characters so "
        "quoted-printable must break it with a soft line break, ünïcödé\n"
        "\n"
        "tab\tinside";
    struct test_platform platform;
    json_t *content = json_pack("{s:s, s:s, s:s}", "title", title, "text", text,
                                "link", "https://example.test/p?a=1");
    int before = sink_count(&plain_sink);
    struct adapter_result result;
    char subject[512], body[1024];
    json_t *message;
    void *state;

    (void)unused;
    platform_default(&platform, &plain_sink,
                     "reader@example.test, archive@example.test");
    platform_set(&platform, "subject_prefix", "[News]");
    state = create_adapter(&platform);
    run_attempt(state, content, &result);
    adapter_find("smtp")->destroy(state);
    json_decref(content);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, MESSAGE_ID);
    assert_string_equal(result.error, "");
    assert_int_equal(sink_count(&plain_sink), before + 1);

    message = sink_message(&plain_sink, before + 1);
    assert_int_equal(json_array_size(json_object_get(message, "defects")), 0);
    assert_string_equal(header(message, "Message-ID"), MESSAGE_ID);
    snprintf(subject, sizeof subject, "[News] %s", title);
    assert_string_equal(header(message, "Subject"), subject);
    assert_string_equal(header(message, "From"), "news@example.test");
    assert_string_equal(header(message, "To"),
                        "reader@example.test, archive@example.test");
    assert_string_equal(header(message, "Date"),
                        "Tue, 14 Nov 2023 22:13:20 +0000");
    assert_string_equal(header(message, "MIME-Version"), "1.0");
    assert_string_equal(header(message, "Content-Transfer-Encoding"),
                        "quoted-printable");
    assert_string_equal(
        json_string_value(json_object_get(message, "content_type")),
        "text/plain");
    assert_string_equal(json_string_value(json_object_get(message, "charset")),
                        "utf-8");

    snprintf(body, sizeof body, "%s\n\nhttps://example.test/p?a=1\n", text);
    assert_string_equal(json_string_value(json_object_get(message, "body")),
                        body);
    assert_string_equal(
        json_string_value(json_object_get(message, "mail_from")),
        "news@example.test");
    assert_int_equal(json_array_size(json_object_get(message, "rcpt_tos")), 2);
    assert_true(json_integer_value(json_object_get(message, "raw_max_line")) <=
                78);
    assert_true(json_is_false(json_object_get(message, "bare_lf")));
    check_subject_lines(
        json_string_value(json_object_get(message, "raw_headers")));
    json_decref(message);
}

static void smtp_ascii_subject_plain(void **unused)
{
    int before = sink_count(&plain_sink);
    struct adapter_result result;
    json_t *message;

    (void)unused;
    send_to("reader@example.test", &result);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);

    message = sink_message(&plain_sink, before + 1);
    assert_string_equal(header(message, "Subject"), "Short note");
    assert_non_null(
        strstr(json_string_value(json_object_get(message, "raw_headers")),
               "\r\nSubject: Short note\r\n"));
    assert_string_equal(json_string_value(json_object_get(message, "body")),
                        "Short note\n");
    json_decref(message);
}

static void smtp_rcpt_4xx_transient(void **unused)
{
    int before = sink_count(&plain_sink);
    struct adapter_result result;

    (void)unused;
    send_to("busy@example.test", &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_non_null(strstr(result.error, "replied \"450 4.2.1"));
    assert_int_equal(result.pause_ms, 0);
    assert_int_equal(sink_count(&plain_sink), before);
}

static void smtp_rcpt_5xx_permanent(void **unused)
{
    struct adapter_result result;

    (void)unused;
    send_to("reader@example.test, gone@example.test", &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "550"));
    assert_int_equal(result.pause_ms, 0);
}

static void smtp_data_replies(void **unused)
{
    struct adapter_result result;

    (void)unused;
    send_to("spam@example.test", &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "554"));

    send_to("later@example.test", &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_non_null(strstr(result.error, "451"));
}

static void smtp_drop_after_data_unknown(void **unused)
{
    struct adapter_result result;

    (void)unused;
    send_to("drop@example.test", &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_non_null(strstr(result.error, "after the message was sent"));
}

static void smtp_auth_success(void **unused)
{
    struct test_platform platform;
    json_t *content = json_pack("{s:s}", "text", "Members only");
    int before = sink_count(&auth_sink);
    struct adapter_result result;
    void *state;

    (void)unused;
    platform_default(&platform, &auth_sink, "reader@example.test");
    platform_set(&platform, "username", "mailer");
    platform_set(&platform, "password_env", PASSWORD_VAR);
    state = create_adapter(&platform);
    run_attempt(state, content, &result);
    adapter_find("smtp")->destroy(state);
    json_decref(content);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(sink_count(&auth_sink), before + 1);
}

static void smtp_auth_failure_pauses(void **unused)
{
    struct test_platform platform;
    json_t *content = json_pack("{s:s}", "text", "Members only");
    struct adapter_result result;
    void *state;

    (void)unused;
    setenv("PUBQ_TEST_SMTP_WRONG", "wrong-" PASSWORD, 1);
    platform_default(&platform, &auth_sink, "reader@example.test");
    platform_set(&platform, "username", "mailer");
    platform_set(&platform, "password_env", "PUBQ_TEST_SMTP_WRONG");
    state = create_adapter(&platform);
    run_attempt(state, content, &result);
    adapter_find("smtp")->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_non_null(strstr(result.pause_reason, "authentication failed"));
    assert_null(strstr(result.error, "wrong-"));

    /* Without credentials the server replies 530 to MAIL FROM. */
    platform_default(&platform, &auth_sink, "reader@example.test");
    state = create_adapter(&platform);
    run_attempt(state, content, &result);
    adapter_find("smtp")->destroy(state);
    json_decref(content);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_non_null(strstr(result.pause_reason, "requires authentication"));
}

static void smtp_starttls_required_pauses(void **unused)
{
    struct test_platform platform;
    json_t *content = json_pack("{s:s}", "text", "Hello");
    struct adapter_result result;
    void *state;

    (void)unused;
    platform_default(&platform, &plain_sink, "reader@example.test");
    snprintf(platform.text[1][1], sizeof platform.text[1][1], "required");
    state = create_adapter(&platform);
    run_attempt(state, content, &result);
    adapter_find("smtp")->destroy(state);
    json_decref(content);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_non_null(strstr(result.pause_reason, "STARTTLS"));
}

static void smtp_connection_refused(void **unused)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    socklen_t length = sizeof address;
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct test_platform platform;
    json_t *content = json_pack("{s:s}", "text", "Hello");
    struct adapter_result result;
    char url[64];
    void *state;

    (void)unused;
    /* A bound socket that never listens reserves a port that refuses. */
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(sock >= 0);
    assert_int_equal(bind(sock, (struct sockaddr *)&address, sizeof address),
                     0);
    assert_int_equal(getsockname(sock, (struct sockaddr *)&address, &length),
                     0);
    platform_default(&platform, &plain_sink, "reader@example.test");
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", ntohs(address.sin_port));
    snprintf(platform.text[0][1], sizeof platform.text[0][1], "%s", url);
    state = create_adapter(&platform);
    run_attempt(state, content, &result);
    adapter_find("smtp")->destroy(state);
    json_decref(content);
    close(sock);

    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_non_null(strstr(result.error, "before the message was sent"));
}

static void smtp_rejects_header_injection(void **unused)
{
    const struct adapter_ops *ops = adapter_find("smtp");
    struct test_platform platform;
    json_t *content =
        json_pack("{s:s, s:s}", "title", "Hello\r\nBcc: victim@example.test",
                  "text", "Body");
    int before = sink_count(&plain_sink);
    struct adapter_result result;
    char err[512] = "";
    void *state;

    (void)unused;
    platform_default(&platform, &plain_sink, "reader@example.test");
    assert_int_equal(
        ops->check_content(&platform.config, content, err, sizeof err), -1);
    assert_non_null(strstr(err, "CR or LF"));

    state = create_adapter(&platform);
    run_attempt(state, content, &result);
    ops->destroy(state);
    json_decref(content);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "CR or LF"));
    assert_int_equal(sink_count(&plain_sink), before);
}

static void expect_create_error(struct test_platform *platform,
                                const char *fragment)
{
    char err[512] = "";
    void *state = NULL;

    assert_int_equal(adapter_find("smtp")->create(&platform->config, &state,
                                                  err, sizeof err),
                     -1);
    assert_null(state);
    assert_non_null(strstr(err, fragment));
    assert_null(strstr(err, PASSWORD));
}

static void smtp_rejects_options(void **unused)
{
    struct test_platform platform;

    (void)unused;
    platform_default(&platform, &plain_sink, "reader@example.test");
    platform_set(&platform, "subject_prefix", "[News]\r\nBcc: x@example.test");
    expect_create_error(&platform, "invalid subject_prefix");

    platform_default(&platform, &plain_sink, "a@example.test,\nb@x.test");
    expect_create_error(&platform, "invalid to");

    platform_default(&platform, &plain_sink, "reader@example.test");
    snprintf(platform.text[2][1], sizeof platform.text[2][1],
             "News <news@example.test>");
    expect_create_error(&platform, "invalid from");

    platform_default(&platform, &plain_sink, "reader@example.test");
    snprintf(platform.text[0][1], sizeof platform.text[0][1],
             "smtp://mailer:" PASSWORD "@127.0.0.1:25");
    expect_create_error(&platform, "remove the user name and password");

    platform_default(&platform, &plain_sink, "reader@example.test");
    snprintf(platform.text[0][1], sizeof platform.text[0][1],
             "http://127.0.0.1:25");
    expect_create_error(&platform, "invalid url");

    platform_default(&platform, &plain_sink, "reader@example.test");
    snprintf(platform.text[1][1], sizeof platform.text[1][1], "maybe");
    expect_create_error(&platform, "invalid starttls \"maybe\"");

    platform_default(&platform, &plain_sink, "reader@example.test");
    platform_set(&platform, "cc", "x@example.test");
    expect_create_error(&platform, "unknown option \"cc\"");

    platform_default(&platform, &plain_sink, "reader@example.test");
    platform_set(&platform, "username", "mailer");
    platform_set(&platform, "password_env", "PUBQ_TEST_SMTP_UNSET");
    unsetenv("PUBQ_TEST_SMTP_UNSET");
    expect_create_error(&platform, "PUBQ_TEST_SMTP_UNSET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(smtp_sends_mime_message),
        cmocka_unit_test(smtp_ascii_subject_plain),
        cmocka_unit_test(smtp_rcpt_4xx_transient),
        cmocka_unit_test(smtp_rcpt_5xx_permanent),
        cmocka_unit_test(smtp_data_replies),
        cmocka_unit_test(smtp_drop_after_data_unknown),
        cmocka_unit_test(smtp_auth_success),
        cmocka_unit_test(smtp_auth_failure_pauses),
        cmocka_unit_test(smtp_starttls_required_pauses),
        cmocka_unit_test(smtp_connection_refused),
        cmocka_unit_test(smtp_rejects_header_injection),
        cmocka_unit_test(smtp_rejects_options),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
