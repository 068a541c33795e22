/*
 * The command adapter running real shell scripts written into a
 * temporary directory, waited for through finish_async as the engine
 * does.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "publish/adapter.h"
#include "publish/adapter_payload.h"
#include "test_support.h"

#define WAIT_LIMIT_S 15

static const char *dir;

/* What finish_async signals; one per attempt, in engine_data. */
struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t done_changed;
    int done;
};

static void on_finish(struct publish_attempt *attempt)
{
    struct waiter *waiter = attempt->engine_data;

    pthread_mutex_lock(&waiter->lock);
    waiter->done = 1;
    pthread_cond_signal(&waiter->done_changed);
    pthread_mutex_unlock(&waiter->lock);
}

static const char *script(const char *name, const char *body)
{
    const char *path = test_path(dir, name);
    char text[2048];

    snprintf(text, sizeof text, "#!/bin/sh\n%s\n", body);
    test_write_file(path, text);
    assert_int_equal(chmod(path, 0755), 0);
    return path;
}

static void *command_create_with(const char *program, const char *args,
                                 const char *timeout, const char *passed,
                                 char *err, size_t errlen)
{
    struct config_option options[4];
    struct platform_config platform = {
        .name = "cmd",
        .type = "command",
        .options = options,
    };
    void *state = NULL;

    options[platform.option_count++] =
        (struct config_option){.key = "program", .value = (char *)program};
    if (args != NULL)
        options[platform.option_count++] =
            (struct config_option){.key = "args", .value = (char *)args};
    if (timeout != NULL)
        options[platform.option_count++] =
            (struct config_option){.key = "timeout", .value = (char *)timeout};
    if (passed != NULL)
        options[platform.option_count++] = (struct config_option){
            .key = "pass_environment", .value = (char *)passed};

    if (adapter_find("command")->create(&platform, &state, err, errlen))
        return NULL;
    return state;
}

static void *command_create(const char *program, const char *args,
                            const char *timeout, char *err, size_t errlen)
{
    return command_create_with(program, args, timeout, NULL, err, errlen);
}

/* Waits for finish_async, at most WAIT_LIMIT_S seconds. */
static void wait_finished(struct waiter *waiter)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_LIMIT_S;
    pthread_mutex_lock(&waiter->lock);
    while (!waiter->done) {
        if (pthread_cond_timedwait(&waiter->done_changed, &waiter->lock,
                                   &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&waiter->lock);
    assert_true(waiter->done);
}

/* Runs one attempt with `content`; returns its result and duration. */
static struct adapter_result run_with(void *state, json_t *content,
                                      double *seconds)
{
    const struct adapter_ops *ops = adapter_find("command");
    struct entry entry = {.id = 9, .attempt_count = 1};
    struct waiter waiter = {.done = 0};
    struct publish_attempt attempt = {
        .entry = &entry,
        .content = content,
        .now = 1764921600000LL,
        .finish_async = on_finish,
        .engine_data = &waiter,
    };
    struct timespec start;
    struct timespec end;
    CURL *easy = NULL;

    snprintf(entry.content_id, sizeof entry.content_id, "post-9");
    snprintf(entry.platform, sizeof entry.platform, "cmd");
    snprintf(entry.idempotency_key, sizeof entry.idempotency_key, "key-9");
    attempt.result.hint_ms = -1;
    pthread_mutex_init(&waiter.lock, NULL);
    pthread_cond_init(&waiter.done_changed, NULL);

    clock_gettime(CLOCK_MONOTONIC, &start);
    if (adapter_start(ops, state, &attempt, &easy) == ADAPTER_ASYNC)
        wait_finished(&waiter);
    clock_gettime(CLOCK_MONOTONIC, &end);
    ops->end(state, &attempt);

    pthread_cond_destroy(&waiter.done_changed);
    pthread_mutex_destroy(&waiter.lock);
    if (seconds != NULL)
        *seconds = (double)(end.tv_sec - start.tv_sec) +
                   (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    return attempt.result;
}

/* Runs `program` once on a platform with these options (NULL: absent). */
static struct adapter_result run_options(const char *program,
                                         const char *args,
                                         const char *timeout,
                                         const char *passed,
                                         double *seconds)
{
    char err[512] = "";
    void *state = command_create_with(program, args, timeout, passed, err,
                                      sizeof err);
    json_t *content = json_pack("{s:s}", "text", "Hello from pubq");
    struct adapter_result result;

    if (state == NULL)
        fail_msg("create failed: %s", err);
    result = run_with(state, content, seconds);
    adapter_find("command")->destroy(state);
    json_decref(content);
    return result;
}

static struct adapter_result run(const char *program, const char *args,
                                 const char *timeout, double *seconds)
{
    return run_options(program, args, timeout, NULL, seconds);
}

static int group_setup(void **unused)
{
    (void)unused;
    dir = test_tmpdir();
    return 0;
}

static void command_success_url_and_stdin(void **unused)
{
    const char *saved = test_path(dir, "stdin.json");
    const char *program =
        script("ok.sh", "cat > \"$1\"\necho \"https://blog.test/p/1\"");
    struct adapter_result result = run(program, saved, NULL, NULL);
    struct entry entry = {.id = 9, .attempt_count = 1};
    json_t *content = json_pack("{s:s}", "text", "Hello from pubq");
    struct publish_attempt attempt = {.entry = &entry, .content = content};
    size_t len = 0;
    char *expected;
    char *received;
    FILE *file;

    (void)unused;
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_url, "https://blog.test/p/1");
    assert_string_equal(result.error, "");

    snprintf(entry.content_id, sizeof entry.content_id, "post-9");
    snprintf(entry.platform, sizeof entry.platform, "cmd");
    snprintf(entry.idempotency_key, sizeof entry.idempotency_key, "key-9");
    expected = adapter_payload_dump(&attempt, &len);
    received = calloc(1, len + 16);
    file = fopen(saved, "r");
    assert_non_null(file);
    assert_int_equal(fread(received, 1, len + 8, file), len);
    fclose(file);
    assert_string_equal(received, expected);

    free(received);
    free(expected);
    json_decref(content);
}

static void command_success_post_id(void **unused)
{
    const char *program = script("id.sh", "echo post-77\necho ignored");
    struct adapter_result result = run(program, NULL, NULL, NULL);

    (void)unused;
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "post-77");
    assert_string_equal(result.post_url, "");
}

static void command_exit_75_transient(void **unused)
{
    const char *program =
        script("tempfail.sh", "echo 'queue is full' >&2\nexit 75");
    struct adapter_result result = run(program, NULL, NULL, NULL);

    (void)unused;
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_non_null(strstr(result.error, "exited with 75"));
    assert_non_null(strstr(result.error, "queue is full"));
}

static void command_exit_1_permanent(void **unused)
{
    const char *program = script(
        "fail.sh", "echo 'first line' >&2\necho 'bad token for account' >&2\n"
                   "exit 1");
    struct adapter_result result = run(program, NULL, NULL, NULL);

    (void)unused;
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "exited with 1"));
    assert_non_null(strstr(result.error, "bad token for account"));
    assert_non_null(strstr(result.error, program));
}

static void command_stderr_keeps_tail(void **unused)
{
    const char *program = script(
        "noisy.sh", "i=0\nwhile [ $i -lt 200 ]; do echo \"noise $i\" >&2; "
                    "i=$((i+1)); done\necho 'the real reason' >&2\nexit 2");
    struct adapter_result result = run(program, NULL, NULL, NULL);

    (void)unused;
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "the real reason"));
    assert_null(strstr(result.error, "noise 0 "));
}

static void command_timeout_unknown(void **unused)
{
    const char *program = script("slow.sh", "sleep 30");
    double seconds = 0;
    struct adapter_result result = run(program, NULL, "1s", &seconds);

    (void)unused;
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_non_null(strstr(result.error, "timed out"));
    assert_non_null(strstr(result.error, "SIGTERM"));
    assert_true(seconds >= 0.9);
    assert_true(seconds < 2.5);
}

static void command_ignores_sigterm_killed(void **unused)
{
    const char *program = script("stubborn.sh", "trap '' TERM\nsleep 30");
    double seconds = 0;
    struct adapter_result result = run(program, NULL, "500ms", &seconds);

    (void)unused;
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_non_null(strstr(result.error, "SIGKILL"));
    assert_true(seconds >= 2.4);
    assert_true(seconds < 5.0);
}

static void command_large_stdin_unread(void **unused)
{
    const char *program = script("noread.sh", "exit 0");
    char err[512];
    void *state = command_create(program, NULL, NULL, err, sizeof err);
    size_t len = 4 * 1024 * 1024;
    char *text = malloc(len + 1);
    json_t *content;
    struct adapter_result result;

    (void)unused;
    assert_non_null(state);
    assert_non_null(text);
    memset(text, 'a', len);
    text[len] = '\0';
    content = json_pack("{s:s}", "text", text);
    free(text);

    /* The program exits without reading: pubq must not die of SIGPIPE. */
    result = run_with(state, content, NULL);
    json_decref(content);
    adapter_find("command")->destroy(state);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
}

static void command_large_stdin_read(void **unused)
{
    const char *saved = test_path(dir, "big.json");
    const char *program = script("big.sh", "cat > \"$1\"");
    char err[512];
    void *state = command_create(program, saved, NULL, err, sizeof err);
    size_t len = 2 * 1024 * 1024;
    char *text = malloc(len + 1);
    json_t *content;
    struct adapter_result result;
    struct stat info;

    (void)unused;
    assert_non_null(state);
    assert_non_null(text);
    memset(text, 'b', len);
    text[len] = '\0';
    content = json_pack("{s:s}", "text", text);
    free(text);

    result = run_with(state, content, NULL);
    json_decref(content);
    adapter_find("command")->destroy(state);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(stat(saved, &info), 0);
    assert_true(info.st_size > (off_t)len);
}

static void command_no_inherited_fds(void **unused)
{
    /* An fd opened without O_CLOEXEC, as careless code might. */
    int leaky = open("/dev/null", O_RDONLY);
    const char *program = script(
        "fds.sh", "if [ -e /proc/$$/fd/$1 ]; then echo leaked >&2; exit 1;"
                  " fi\nexit 0");
    char args[16];
    struct adapter_result result;

    (void)unused;
    assert_true(leaky > 2);
    snprintf(args, sizeof args, "%d", leaky);
    result = run(program, args, NULL, NULL);
    close(leaky);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
}

static void command_env_keeps_secrets_out(void **unused)
{
    const char *saved = test_path(dir, "env.txt");
    const char *program = script("env.sh", "env > \"$1\"");
    struct adapter_result result;
    char *env;

    (void)unused;
    /* As a webhook platform's secret_env would name it. */
    assert_int_equal(setenv("PUBQ_TEST_HOOK_SECRET", "s3cret-value", 1), 0);
    assert_int_equal(setenv("LC_PUBQ_TOKEN", "lc-secret", 1), 0);
    assert_int_equal(setenv("LC_TIME", "C", 1), 0);
    result = run_options(program, saved, NULL, NULL, NULL);
    assert_int_equal(unsetenv("PUBQ_TEST_HOOK_SECRET"), 0);
    assert_int_equal(unsetenv("LC_PUBQ_TOKEN"), 0);
    assert_int_equal(unsetenv("LC_TIME"), 0);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    env = test_read_file(saved);
    assert_null(strstr(env, "PUBQ_TEST_HOOK_SECRET"));
    assert_null(strstr(env, "s3cret-value"));
    assert_null(strstr(env, "lc-secret"));
    assert_non_null(strstr(env, "PATH="));
    assert_non_null(strstr(env, "LC_TIME=C"));
    free(env);
}

static void command_pass_environment_passes(void **unused)
{
    const char *program = script(
        "passed.sh", "[ \"$PUBQ_TEST_TOKEN\" = token-1 ] || exit 1\n"
                     "[ \"$PUBQ_TEST_OTHER\" = other-2 ] || exit 1\n"
                     "[ -z \"$PUBQ_TEST_HIDDEN\" ] || exit 1");
    struct adapter_result result;

    (void)unused;
    assert_int_equal(setenv("PUBQ_TEST_TOKEN", "token-1", 1), 0);
    assert_int_equal(setenv("PUBQ_TEST_OTHER", "other-2", 1), 0);
    assert_int_equal(setenv("PUBQ_TEST_HIDDEN", "hidden-3", 1), 0);
    result = run_options(program, NULL, NULL,
                         "PUBQ_TEST_TOKEN, PUBQ_TEST_OTHER", NULL);
    unsetenv("PUBQ_TEST_TOKEN");
    unsetenv("PUBQ_TEST_OTHER");
    unsetenv("PUBQ_TEST_HIDDEN");

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
}

static void command_sigchld_ignored_ends(void **unused)
{
    const char *program = script("quick.sh", "exit 0");
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    struct sigaction saved;
    double seconds = 0;
    struct adapter_result result;

    (void)unused;
    /* The kernel then reaps children itself, so waitpid fails. */
    assert_int_equal(sigaction(SIGCHLD, &ignore, &saved), 0);
    result = run(program, NULL, "5s", &seconds);
    assert_int_equal(sigaction(SIGCHLD, &saved, NULL), 0);

    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_non_null(strstr(result.error, "exit status"));
    assert_true(seconds < 4.0);
}

static void command_create_rejects(void **unused)
{
    const char *plain = test_path(dir, "plain.txt");
    char err[512];

    (void)unused;
    assert_null(command_create("relative.sh", NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "absolute path"));

    assert_null(
        command_create("/nonexistent/pubq-hook", NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/pubq-hook"));

    test_write_file(plain, "not a program\n");
    assert_int_equal(chmod(plain, 0644), 0);
    assert_null(command_create(plain, NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "chmod +x"));

    assert_null(command_create("/bin/sh", NULL, "forever", err, sizeof err));
    assert_non_null(strstr(err, "timeout"));

    assert_null(command_create_with("/bin/sh", NULL, NULL, "OK 9LIVES", err,
                                    sizeof err));
    assert_non_null(strstr(err, "\"9LIVES\""));
    assert_non_null(strstr(err, "pass_environment"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(command_success_url_and_stdin),
        cmocka_unit_test(command_success_post_id),
        cmocka_unit_test(command_exit_75_transient),
        cmocka_unit_test(command_exit_1_permanent),
        cmocka_unit_test(command_stderr_keeps_tail),
        cmocka_unit_test(command_timeout_unknown),
        cmocka_unit_test(command_ignores_sigterm_killed),
        cmocka_unit_test(command_large_stdin_unread),
        cmocka_unit_test(command_large_stdin_read),
        cmocka_unit_test(command_no_inherited_fds),
        cmocka_unit_test(command_env_keeps_secrets_out),
        cmocka_unit_test(command_pass_environment_passes),
        cmocka_unit_test(command_sigchld_ignored_ends),
        cmocka_unit_test(command_create_rejects),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
