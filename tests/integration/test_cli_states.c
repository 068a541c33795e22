/*
 * The pubq binary on entries in states that only the engine produces
 * (failed with an attempt history, publishing under a lease): the test
 * drives the store directly to get there, then runs the real binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "test_support.h"

#define OUTPUT_MAX 65536
#define NODE "test-node"

struct cli_run {
    int status;
    char out[OUTPUT_MAX];
    char err[OUTPUT_MAX];
};

struct fixture {
    const char *dir;
    const char *config_path;
    const char *db_path;
    struct store *store;
    struct cli_run run;
};

static int64_t now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void read_into(const char *path, char *buffer, size_t size)
{
    FILE *file = fopen(path, "rb");
    size_t used = 0;

    if (file != NULL) {
        used = fread(buffer, 1, size - 1, file);
        fclose(file);
    }
    buffer[used] = '\0';
}

/*
 * Runs `pubq --config CONFIG ARGS...` (NULL-terminated) and stores its
 * exit status, standard output and standard error in fx->run.
 */
static void run_pubq(struct fixture *fx, ...)
{
    const char *bin = getenv("PUBQ_BIN");
    const char *out_path = test_path(fx->dir, "stdout");
    const char *err_path = test_path(fx->dir, "stderr");
    char *argv[32] = {(char *)bin, "--config", (char *)fx->config_path};
    size_t argc = 3;
    va_list args;
    pid_t pid;
    int status;

    assert_non_null(bin);
    va_start(args, fx);
    while (argc < 31 && (argv[argc] = va_arg(args, char *)) != NULL)
        argc++;
    va_end(args);
    argv[argc] = NULL;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen(out_path, "wb", stdout) == NULL ||
            freopen(err_path, "wb", stderr) == NULL)
            _exit(127);
        execv(bin, argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));

    fx->run.status = WEXITSTATUS(status);
    read_into(out_path, fx->run.out, sizeof fx->run.out);
    read_into(err_path, fx->run.err, sizeof fx->run.err);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char config[1024];
    char err[STORE_ERR_MAX];

    assert_non_null(fx);
    fx->dir = test_tmpdir();
    fx->config_path = test_path(fx->dir, "pubq.conf");
    fx->db_path = test_path(fx->dir, "pubq.db");
    snprintf(config, sizeof config,
             "[database]\nurl = %s\n\n"
             "[platform outbox]\ntype = file\npath = %s\n",
             fx->db_path, test_path(fx->dir, "outbox.jsonl"));
    test_write_file(fx->config_path, config);

    /* The binary creates and migrates the database on first use. */
    run_pubq(fx, "migrate", NULL);
    assert_int_equal(fx->run.status, 0);
    assert_int_equal(store_open(fx->db_path, &fx->store, err, sizeof err),
                     STORE_OK);

    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    store_close(fx->store);
    free(fx);
    return 0;
}

/* Publishes one entry with the binary and claims it as the engine does. */
static struct entry claim_new_entry(struct fixture *fx, const char *id)
{
    static const char *const outbox[] = {"outbox"};
    struct entry_list list = {0};
    struct entry entry;

    run_pubq(fx, "publish", "--text", "hello", "--platform", "outbox", "--id",
             id, NULL);
    assert_int_equal(fx->run.status, 0);

    assert_int_equal(fx->store->ops->claim_due(fx->store, NODE, outbox, 1,
                                               now_ms() + 1000, 60000, 1,
                                               &list),
                     STORE_OK);
    assert_int_equal(list.count, 1);
    entry = list.items[0];
    entry_list_free(&list);
    assert_string_equal(entry.content_id, id);
    return entry;
}

/* Fails the claimed entry permanently with `error` as its text. */
static void fail_entry(struct fixture *fx, const struct entry *entry,
                       const char *error)
{
    struct attempt_completion completion = {
        .entry_id = entry->id,
        .attempt_number = entry->attempt_count,
        .node = NODE,
        .next_status = ENTRY_FAILED,
        .outcome = OUTCOME_PERMANENT,
        .http_status = 422,
        .ended_at = now_ms() + 1000,
        .latency_ms = 37,
        .error = error,
    };
    int applied = 0;

    assert_int_equal(
        fx->store->ops->complete_attempts(fx->store, &completion, 1, &applied),
        STORE_OK);
    assert_int_equal(applied, 1);
}

static const char long_error[] =
    "content rejected by the platform: the status text contains a link "
    "that the server's spam filter does not allow; remove it and retry "
    "END-OF-ERROR";

static void cli_failed_entry_listed(void **state)
{
    struct fixture *fx = *state;
    struct entry entry = claim_new_entry(fx, "post-failed");

    fail_entry(fx, &entry, long_error);

    run_pubq(fx, "list", "--status", "failed", NULL);
    assert_int_equal(fx->run.status, 0);
    assert_non_null(strstr(fx->run.out, "post-failed"));
    assert_non_null(strstr(fx->run.out, "content rejected by"));
    assert_non_null(strstr(fx->run.out, "..."));
    assert_null(strstr(fx->run.out, "END-OF-ERROR"));
}

static void cli_failed_entry_shown(void **state)
{
    struct fixture *fx = *state;
    struct entry entry = claim_new_entry(fx, "post-shown");
    char id[24];

    fail_entry(fx, &entry, long_error);
    snprintf(id, sizeof id, "%lld", (long long)entry.id);

    run_pubq(fx, "show", id, NULL);
    assert_int_equal(fx->run.status, 0);
    assert_non_null(strstr(fx->run.out, "failed"));
    assert_non_null(strstr(fx->run.out, "END-OF-ERROR"));
    assert_non_null(strstr(fx->run.out, "permanent"));
    assert_non_null(strstr(fx->run.out, "422"));
    assert_non_null(strstr(fx->run.out, "37 ms"));

    run_pubq(fx, "show", id, "--json", NULL);
    assert_int_equal(fx->run.status, 0);
    assert_non_null(strstr(fx->run.out, "\"http_status\": 422"));
    assert_non_null(strstr(fx->run.out, "\"outcome\": \"permanent\""));
    assert_non_null(strstr(fx->run.out, "remove it and retry END-OF-ERROR"));
}

static void cli_retry_failed_entry(void **state)
{
    struct fixture *fx = *state;
    struct entry entry = claim_new_entry(fx, "post-retry");
    struct audit_filter filter = {.action = "manual_retry"};
    struct audit_list audit = {0};
    char id[24];

    fail_entry(fx, &entry, "bad request");
    snprintf(id, sizeof id, "%lld", (long long)entry.id);

    run_pubq(fx, "retry", id, NULL);
    assert_int_equal(fx->run.status, 0);
    assert_non_null(strstr(fx->run.out, "retried"));

    assert_int_equal(fx->store->ops->get_entry(fx->store, entry.id, &entry),
                     STORE_OK);
    assert_int_equal(entry.status, ENTRY_PENDING);
    assert_int_equal(entry.retry_count, 0);

    assert_int_equal(fx->store->ops->list_audit(fx->store, &filter, &audit),
                     STORE_OK);
    assert_int_equal(audit.count, 1);
    assert_int_equal(strncmp(audit.items[0].agent_name, "cli", 3), 0);
    audit_list_free(&audit);

    run_pubq(fx, "retry", id, NULL);
    assert_int_equal(fx->run.status, 1);
    assert_non_null(strstr(fx->run.err, "it is pending; only failed "
                                        "entries can be retried"));
}

static void cli_publishing_entry_kept(void **state)
{
    struct fixture *fx = *state;
    struct entry entry = claim_new_entry(fx, "post-busy");
    char id[24];
    char expected[160];

    snprintf(id, sizeof id, "%lld", (long long)entry.id);
    snprintf(expected, sizeof expected,
             "pubq: cannot cancel entry %s: it is publishing; only "
             "pending, retrying or failed entries can be cancelled",
             id);

    run_pubq(fx, "cancel", id, NULL);
    assert_int_equal(fx->run.status, 1);
    assert_non_null(strstr(fx->run.err, expected));

    run_pubq(fx, "retry", id, NULL);
    assert_int_equal(fx->run.status, 1);
    assert_non_null(strstr(fx->run.err, "it is publishing"));

    assert_int_equal(fx->store->ops->get_entry(fx->store, entry.id, &entry),
                     STORE_OK);
    assert_int_equal(entry.status, ENTRY_PUBLISHING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(cli_failed_entry_listed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cli_failed_entry_shown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cli_retry_failed_entry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cli_publishing_entry_kept, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
