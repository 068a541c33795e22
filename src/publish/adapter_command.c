/*
 * The `command` adapter: runs a program with the post as JSON on stdin.
 * Its exit status decides the outcome (0 published, 75 try again later,
 * anything else failed), and the first line of its stdout may name the
 * post. The program runs without a shell and in a process group of its
 * own, so a timeout stops its children too. It inherits no descriptor of
 * pubq besides stdin, stdout and stderr, and only the environment
 * variables that command_env.c lets through.
 *
 * Each attempt waits for its program on a detached thread that reads
 * and writes only the attempt's own command_run, then hands the attempt
 * back with finish_async().
 */
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_addclosefrom_np */

#include "publish/adapter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "core/timestamp.h"
#include "publish/adapter_payload.h"
#include "publish/command_env.h"
#include "publish/adapter_options.h"
#include "util/banned.h"

#define COMMAND_DEFAULT_TIMEOUT_MS 30000
#define COMMAND_MAX_TIMEOUT_MS (24LL * 3600 * 1000)
#define COMMAND_KILL_GRACE_MS 2000
#define COMMAND_MAX_ARGS 64
#define COMMAND_STDOUT_MAX 1024
#define COMMAND_STDERR_TAIL 512
#define COMMAND_POLL_TICK_MS 100

struct command_adapter {
    char *program;
    char *args;  /* the `args` option, split in place into argv */
    char **argv; /* program, args..., NULL */
    char **env;  /* "NAME=VALUE"..., NULL */
    int64_t timeout_ms;
};

/* One running program; owned by the attempt as its step_state. */
struct command_run {
    struct publish_attempt *attempt;
    char program[STORE_TEXT_MAX / 4];
    pid_t pid;
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    char *payload;
    size_t payload_len;
    size_t payload_sent;
    int64_t timeout_ms;

    char stdout_line[COMMAND_STDOUT_MAX + 1];
    size_t stdout_len;
    int stdout_line_done; /* a newline or the size cap was reached */
    char stderr_tail[COMMAND_STDERR_TAIL + 1];
    size_t stderr_len;

    int wait_status;
    int exited;    /* waitpid has reaped the program */
    int term_sent; /* the timeout passed and SIGTERM went out */
    int kill_sent;
    int wait_error; /* errno of a failed waitpid, 0 when none */
};

static void command_destroy(void *state)
{
    struct command_adapter *adapter = state;

    if (adapter == NULL)
        return;
    free(adapter->program);
    free(adapter->args);
    free(adapter->argv);
    command_env_free(adapter->env);
    free(adapter);
}

static int set_program(struct command_adapter *adapter,
                       const struct platform_config *platform, char *err,
                       size_t errlen)
{
    const char *program = platform_config_option(platform, "program");
    struct stat info;

    if (program == NULL || program[0] != '/') {
        snprintf(err, errlen,
                 "%s option program for command platform \"%s\": set it "
                 "to the absolute path of an executable",
                 program == NULL ? "missing" : "relative path in",
                 platform->name);
        return -1;
    }
    if (stat(program, &info) != 0 || !S_ISREG(info.st_mode) ||
        access(program, X_OK) != 0) {
        snprintf(err, errlen,
                 "program \"%s\" of command platform \"%s\" is not an "
                 "executable file: check the path and run chmod +x",
                 program, platform->name);
        return -1;
    }
    adapter->program = strdup(program);
    return adapter->program == NULL ? -1 : 0;
}

/* Splits `args` on spaces and tabs; quotes have no special meaning. */
static int set_argv(struct command_adapter *adapter,
                    const struct platform_config *platform, char *err,
                    size_t errlen)
{
    const char *args = platform_config_option(platform, "args");
    size_t count = 0;
    char *rest;
    char *word;

    adapter->argv = calloc(COMMAND_MAX_ARGS + 2, sizeof *adapter->argv);
    adapter->args = strdup(args != NULL ? args : "");
    if (adapter->argv == NULL || adapter->args == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    adapter->argv[count++] = adapter->program;
    rest = adapter->args;
    while ((word = strsep(&rest, " \t")) != NULL) {
        if (word[0] == '\0')
            continue;
        if (count > COMMAND_MAX_ARGS) {
            snprintf(err, errlen,
                     "too many args for command platform \"%s\": at most "
                     "%d are supported",
                     platform->name, COMMAND_MAX_ARGS);
            return -1;
        }
        adapter->argv[count++] = word;
    }
    return 0;
}

static int set_timeout(struct command_adapter *adapter,
                       const struct platform_config *platform, char *err,
                       size_t errlen)
{
    const char *text = platform_config_option(platform, "timeout");
    char reason[256];

    adapter->timeout_ms = COMMAND_DEFAULT_TIMEOUT_MS;
    if (text == NULL)
        return 0;
    if (timestamp_parse_duration(text, &adapter->timeout_ms, reason,
                                 sizeof reason) != 0 ||
        adapter->timeout_ms <= 0 ||
        adapter->timeout_ms > COMMAND_MAX_TIMEOUT_MS) {
        snprintf(err, errlen,
                 "invalid timeout \"%s\" for command platform \"%s\": use "
                 "a duration from 1ms to 24h, e.g. 30s",
                 text, platform->name);
        return -1;
    }
    return 0;
}

static const char *const command_options[] = {
    "program", "args", "timeout", "pass_environment", NULL,
};

static int command_create(const struct platform_config *platform, void **state,
                          char *err, size_t errlen)
{
    struct command_adapter *adapter;

    if (adapter_options_check_known(platform, command_options, err,
                                    errlen) != 0)
        return -1;

    adapter = calloc(1, sizeof *adapter);
    if (adapter == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (set_program(adapter, platform, err, errlen) != 0 ||
        set_argv(adapter, platform, err, errlen) != 0 ||
        set_timeout(adapter, platform, err, errlen) != 0 ||
        command_env_build(platform, &adapter->env, err, errlen) != 0) {
        command_destroy(adapter);
        return -1;
    }
    *state = adapter;
    return 0;
}

static int64_t monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void run_free(struct command_run *run)
{
    if (run == NULL)
        return;
    close_fd(&run->stdin_fd);
    close_fd(&run->stdout_fd);
    close_fd(&run->stderr_fd);
    free(run->payload);
    free(run);
}

/* Sends what the pipe takes of the payload; closes stdin at the end. */
static void feed_stdin(struct command_run *run)
{
    ssize_t n = write(run->stdin_fd, run->payload + run->payload_sent,
                      run->payload_len - run->payload_sent);

    if (n > 0)
        run->payload_sent += (size_t)n;
    if (n < 0 && errno == EPIPE) {
        /* The program closed stdin; SIGPIPE is blocked, so clear it. */
        sigset_t pipe_only;
        struct timespec zero = {0, 0};

        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        sigtimedwait(&pipe_only, NULL, &zero);
    }
    if (run->payload_sent == run->payload_len ||
        (n < 0 && errno != EAGAIN && errno != EINTR))
        close_fd(&run->stdin_fd);
}

static void keep_stdout(struct command_run *run, const char *data, size_t n)
{
    for (size_t i = 0; i < n && !run->stdout_line_done; i++) {
        if (data[i] == '\n' || run->stdout_len == COMMAND_STDOUT_MAX) {
            run->stdout_line_done = 1;
            break;
        }
        run->stdout_line[run->stdout_len++] = data[i];
    }
    run->stdout_line[run->stdout_len] = '\0';
}

static void keep_stderr(struct command_run *run, const char *data, size_t n)
{
    if (n >= COMMAND_STDERR_TAIL) {
        memcpy(run->stderr_tail, data + n - COMMAND_STDERR_TAIL,
               COMMAND_STDERR_TAIL);
        run->stderr_len = COMMAND_STDERR_TAIL;
    } else {
        size_t keep = COMMAND_STDERR_TAIL - n;

        if (run->stderr_len > keep) {
            memmove(run->stderr_tail, run->stderr_tail + run->stderr_len - keep,
                    keep);
            run->stderr_len = keep;
        }
        memcpy(run->stderr_tail + run->stderr_len, data, n);
        run->stderr_len += n;
    }
    run->stderr_tail[run->stderr_len] = '\0';
}

/* Reads what is available from stdout or stderr; closes it at EOF. */
static void drain(struct command_run *run, int *fd, int is_stdout)
{
    char buffer[4096];

    for (int i = 0; i < 64 && *fd >= 0; i++) {
        ssize_t n = read(*fd, buffer, sizeof buffer);

        if (n > 0 && is_stdout)
            keep_stdout(run, buffer, (size_t)n);
        else if (n > 0)
            keep_stderr(run, buffer, (size_t)n);
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            close_fd(fd);
        else
            return;
    }
}

/* Sends SIGTERM to the process group at the deadline, SIGKILL later. */
static int64_t enforce_timeout(struct command_run *run, int64_t started)
{
    int64_t now = monotonic_ms();
    int64_t term_at = started + run->timeout_ms;
    int64_t kill_at = term_at + COMMAND_KILL_GRACE_MS;

    if (!run->term_sent && now >= term_at) {
        kill(-run->pid, SIGTERM);
        run->term_sent = 1;
    }
    if (run->term_sent && !run->kill_sent && now >= kill_at) {
        kill(-run->pid, SIGKILL);
        run->kill_sent = 1;
    }
    if (!run->term_sent)
        return term_at - now;
    return run->kill_sent ? COMMAND_POLL_TICK_MS : kill_at - now;
}

/*
 * Returns 1 once the program's exit status is known or can never be:
 * with SIGCHLD ignored, or another waitpid caller, it fails with ECHILD.
 */
static int reap(struct command_run *run)
{
    pid_t pid = waitpid(run->pid, &run->wait_status, WNOHANG);

    if (pid == run->pid) {
        run->exited = 1;
        return 1;
    }
    if (pid < 0 && errno != EINTR) {
        run->wait_error = errno;
        run->exited = 1;
        return 1;
    }
    return 0;
}

/*
 * Waits for the program with poll() over its pipes. The wait is bounded:
 * after the timeout and the grace period SIGKILL ends the program, and
 * the loop ends when waitpid reaps it, even if a child of the program
 * keeps a pipe open.
 */
static void run_wait(struct command_run *run)
{
    int64_t started = monotonic_ms();

    while (!run->exited) {
        struct pollfd fds[3];
        nfds_t count = 0;
        int64_t wait_ms = enforce_timeout(run, started);

        if (reap(run))
            break;
        if (run->stdin_fd >= 0)
            fds[count++] = (struct pollfd){run->stdin_fd, POLLOUT, 0};
        if (run->stdout_fd >= 0)
            fds[count++] = (struct pollfd){run->stdout_fd, POLLIN, 0};
        if (run->stderr_fd >= 0)
            fds[count++] = (struct pollfd){run->stderr_fd, POLLIN, 0};

        if (wait_ms > COMMAND_POLL_TICK_MS)
            wait_ms = COMMAND_POLL_TICK_MS;
        /* With every pipe closed, wait briefly for the exit status. */
        if (count == 0 && wait_ms > 10)
            wait_ms = 10;
        if (poll(fds, count, (int)(wait_ms > 0 ? wait_ms : 0)) <= 0)
            continue;

        for (nfds_t i = 0; i < count; i++) {
            if (fds[i].revents == 0)
                continue;
            if (fds[i].fd == run->stdin_fd)
                feed_stdin(run);
            else
                drain(run,
                      fds[i].fd == run->stdout_fd ? &run->stdout_fd
                                                  : &run->stderr_fd,
                      fds[i].fd == run->stdout_fd);
        }
    }

    drain(run, &run->stdout_fd, 1);
    drain(run, &run->stderr_fd, 0);
}

/* Replaces control characters and trims, for use in an error message. */
static void clean_text(char *text)
{
    size_t len = strlen(text);

    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
            text[i] = ' ';
    }
    while (len > 0 && text[len - 1] == ' ')
        text[--len] = '\0';
}

/* Copies text only when it fits: a cut-off id or URL would be wrong. */
static void copy_whole(char *out, size_t outlen, const char *text)
{
    size_t len = strlen(text);

    if (len < outlen)
        memcpy(out, text, len + 1);
}

static void classify_success(struct command_run *run,
                             struct adapter_result *result)
{
    char *line = run->stdout_line;

    clean_text(line);
    while (*line == ' ')
        line++;
    result->outcome = OUTCOME_SUCCESS;
    if (strncmp(line, "http://", 7) == 0 || strncmp(line, "https://", 8) == 0)
        copy_whole(result->post_url, sizeof result->post_url, line);
    else
        copy_whole(result->post_id, sizeof result->post_id, line);
}

static void run_classify(struct command_run *run, struct adapter_result *result)
{
    const char *stderr_text = run->stderr_tail;
    int status = run->wait_status;

    clean_text(run->stderr_tail);
    if (run->wait_error != 0) {
        adapter_result_fail(result, OUTCOME_UNKNOWN,
                            "cannot read the exit status of command %s: "
                            "%s; the post may exist",
                            run->program, strerror(run->wait_error));
    } else if (run->term_sent) {
        adapter_result_fail(result, OUTCOME_UNKNOWN,
                            "command %s timed out after %lld ms and was "
                            "stopped with %s; the post may exist: %s",
                            run->program, (long long)run->timeout_ms,
                            run->kill_sent ? "SIGKILL" : "SIGTERM",
                            stderr_text);
    } else if (WIFSIGNALED(status)) {
        adapter_result_fail(result, OUTCOME_UNKNOWN,
                            "command %s was killed by signal %d; the post "
                            "may exist: %s",
                            run->program, WTERMSIG(status), stderr_text);
    } else if (WEXITSTATUS(status) == 0) {
        classify_success(run, result);
    } else if (WEXITSTATUS(status) == EX_TEMPFAIL) {
        adapter_result_fail(result, OUTCOME_TRANSIENT,
                            "command %s exited with 75 (temporary "
                            "failure): %s",
                            run->program, stderr_text);
    } else {
        adapter_result_fail(result, OUTCOME_PERMANENT,
                            "command %s exited with %d: %s", run->program,
                            WEXITSTATUS(status), stderr_text);
    }
}

static void *run_thread(void *arg)
{
    struct command_run *run = arg;
    struct publish_attempt *attempt = run->attempt;

    run_wait(run);
    run_classify(run, &attempt->result);
    close_fd(&run->stdin_fd);
    close_fd(&run->stdout_fd);
    close_fd(&run->stderr_fd);

    /* The engine may free the attempt from here on: touch nothing. */
    attempt->finish_async(attempt);
    return NULL;
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/*
 * Creates the three pipes: child[i] is the end the program gets as fd i,
 * parent[i] pubq's non-blocking end. All are close-on-exec, so a program
 * that another attempt starts at the same time never inherits them. The
 * dup2 in posix_spawn clears the flag on the program's own copies.
 */
static int open_pipes(int child[3], int parent[3])
{
    int fds[2];

    for (int i = 0; i < 3; i++) {
        if (pipe2(fds, O_CLOEXEC) != 0)
            return -1;
        child[i] = i == 0 ? fds[0] : fds[1];
        parent[i] = i == 0 ? fds[1] : fds[0];
        if (set_nonblocking(parent[i]) != 0)
            return -1;
    }
    return 0;
}

static int spawn_program(const struct command_adapter *adapter,
                         const int child[3], pid_t *pid)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t signals;
    int error;

    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    for (int i = 0; i < 3; i++)
        posix_spawn_file_actions_adddup2(&actions, child[i], i);
    /* A glibc extension: no other descriptor of pubq reaches the child,
     * even one opened without O_CLOEXEC. */
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);

    /* A new process group, so a timeout can signal the program's own
     * children; default handlers and an empty mask, whatever pubq set. */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                        POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigemptyset(&signals);
    posix_spawnattr_setsigmask(&attr, &signals);
    sigfillset(&signals);
    posix_spawnattr_setsigdefault(&attr, &signals);

    error = posix_spawn(pid, adapter->program, &actions, &attr, adapter->argv,
                        adapter->env);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return error;
}

/* Starts the waiting thread with every signal blocked in it. */
static int start_thread(struct command_run *run)
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all;
    sigset_t old;
    int error;

    sigfillset(&all);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    error = pthread_create(&thread, &attr, run_thread, run);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return error;
}

static struct command_run *run_new(const struct command_adapter *adapter,
                                   struct publish_attempt *attempt)
{
    struct command_run *run = calloc(1, sizeof *run);

    if (run == NULL)
        return NULL;
    run->attempt = attempt;
    run->stdin_fd = -1;
    run->stdout_fd = -1;
    run->stderr_fd = -1;
    run->timeout_ms = adapter->timeout_ms;
    snprintf(run->program, sizeof run->program, "%s", adapter->program);
    run->payload = adapter_payload_dump(attempt, &run->payload_len);
    if (run->payload == NULL) {
        free(run);
        return NULL;
    }
    return run;
}

/* Spawns the program; returns 0, or an errno value with nothing left. */
static int run_spawn(const struct command_adapter *adapter,
                     struct command_run *run)
{
    int child[3] = {-1, -1, -1};
    int parent[3] = {-1, -1, -1};
    int error = 0;

    if (open_pipes(child, parent) != 0)
        error = errno;
    else
        error = spawn_program(adapter, child, &run->pid);

    for (int i = 0; i < 3; i++)
        close_fd(&child[i]);
    if (error != 0) {
        for (int i = 0; i < 3; i++)
            close_fd(&parent[i]);
        return error;
    }
    run->stdin_fd = parent[0];
    run->stdout_fd = parent[1];
    run->stderr_fd = parent[2];
    return 0;
}

/* Stops a program whose waiting thread could not start. */
static void run_abandon(struct command_run *run)
{
    kill(-run->pid, SIGKILL);
    waitpid(run->pid, NULL, 0);
}

static enum adapter_step
command_start(void *state, struct publish_attempt *attempt, CURL **easy)
{
    struct command_adapter *adapter = state;
    struct command_run *run = run_new(adapter, attempt);
    int error;

    (void)easy;
    if (run == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_PERMANENT,
                            "cannot serialise the content of entry %lld "
                            "as JSON: the content must be a JSON object",
                            (long long)attempt->entry->id);
        return ADAPTER_DONE;
    }

    error = run_spawn(adapter, run);
    if (error != 0) {
        /* A program deleted or made non-executable after start-up. */
        enum outcome outcome = error == ENOENT || error == EACCES
                                   ? OUTCOME_PERMANENT
                                   : OUTCOME_TRANSIENT;

        adapter_result_fail(&attempt->result, outcome,
                            "cannot start command %s: %s", adapter->program,
                            strerror(error));
        run_free(run);
        return ADAPTER_DONE;
    }

    attempt->step_state = run;
    error = start_thread(run);
    if (error != 0) {
        run_abandon(run);
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "cannot start a thread to wait for command %s: "
                            "%s",
                            adapter->program, strerror(error));
        return ADAPTER_DONE;
    }
    return ADAPTER_ASYNC;
}

static void command_end(void *state, struct publish_attempt *attempt)
{
    (void)state;
    run_free(attempt->step_state);
    attempt->step_state = NULL;
}

const struct adapter_ops adapter_command_ops = {
    .type = "command",
    .options = command_options,
    .create = command_create,
    .destroy = command_destroy,
    .check_content = NULL,
    .start = command_start,
    .on_response = NULL,
    .end = command_end,
};
