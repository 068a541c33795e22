/*
 * Opening and closing the PostgreSQL store, its table of operations,
 * and the LISTEN/NOTIFY wake-ups.
 */
#include "store/store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "util/log.h"
#include "util/banned.h"

static void pg_close(struct store *store)
{
    struct pg_store *s = pg_store_of(store);

    pg_job_cache_clear(s);
    PQfinish(s->conn);
    free(s);
}

static const struct store_ops pg_ops = {
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .submit_jobs = pg_submit_jobs,
    .submit_groups = pg_submit_groups,
    .get_job = pg_get_job,
    .get_entry = pg_get_entry,
    .list_entries = pg_list_entries,
    .list_attempts = pg_list_attempts,
    .count_entries = pg_count_entries,
    .claim_due = pg_claim_due,
    .next_due_at = pg_next_due_at,
    .claim_ahead = pg_claim_ahead,
    .start_claimed = pg_start_claimed,
    .complete_attempts = pg_complete_attempts,
    .complete_and_claim = pg_complete_and_claim,
    .renew_leases = pg_renew_leases,
    .release_leases = pg_release_leases,
    .recover_leases = pg_recover_leases,
    .sweep = pg_sweep,
    .retry_entry = pg_retry_entry,
    .cancel_entry = pg_cancel_entry,
    .mark_published = pg_mark_published,
    .cancel_content = pg_cancel_content,
    .reschedule_content = pg_reschedule_content,
    .pause_platform = pg_pause_platform,
    .resume_platform = pg_resume_platform,
    .list_platform_states = pg_list_platform_states,
    .get_platform_data = pg_get_platform_data,
    .set_platform_data = pg_set_platform_data,
    .list_audit = pg_list_audit,
    .attempt_stats = pg_attempt_stats,
    .close = pg_close,
    .wake_fd = pg_wake_fd,
    .consume_wakeups = pg_consume_wakeups,
};

/*
 * Copies `message` to dst with every occurrence of `secret` replaced by
 * "***": libpq messages name the host and user, and a future libpq
 * could quote more of the URL than that.
 */
static void redact(char *dst, size_t size, const char *message,
                   const char *secret)
{
    size_t secret_len = secret != NULL ? strlen(secret) : 0;
    size_t out = 0;

    for (const char *c = message; *c != '\0' && out + 1 < size;) {
        if (secret_len > 0 && strncmp(c, secret, secret_len) == 0) {
            out += (size_t)snprintf(dst + out, size - out, "***");
            c += secret_len;
            continue;
        }
        dst[out++] = *c == '\n' || *c == '\t' ? ' ' : *c;
        c++;
    }
    if (out >= size)
        out = size - 1;
    while (out > 0 && dst[out - 1] == ' ')
        out--;
    dst[out] = '\0';
}

/* Parses the URL only to learn the password, for redact(). */
static int read_password(const char *url, char *password, size_t size)
{
    char *parse_error = NULL;
    PQconninfoOption *options = PQconninfoParse(url, &parse_error);

    password[0] = '\0';
    if (options == NULL) {
        PQfreemem(parse_error);
        return -1;
    }
    for (PQconninfoOption *o = options; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            snprintf(password, size, "%s", o->val);
    }
    PQconninfoFree(options);
    return 0;
}

/* Server notices ("relation already exists, skipping") are routine. */
static void log_notice(void *arg, const char *message)
{
    size_t len = strlen(message);

    (void)arg;
    if (len > 0 && message[len - 1] == '\n')
        len--;
    log_debug("store", "PostgreSQL notice: %.*s", (int)len, message);
}

/*
 * Keywords before "dbname" are defaults the URL may override; those
 * after it are forced: the store sends and reads UTF-8 only.
 */
static PGconn *connect_url(const char *url)
{
    const char *const keywords[] = {"connect_timeout", "application_name",
                                    "dbname", "client_encoding", NULL};
    const char *const values[] = {"5", "pubq", url, "UTF8", NULL};

    return PQconnectdbParams(keywords, values, 1);
}

int store_pg_open(const char *url, struct store **out, char *err, size_t errlen)
{
    char password[256];
    char message[STORE_ERR_MAX];

    if (read_password(url, password, sizeof password) != 0) {
        snprintf(err, errlen,
                 "invalid PostgreSQL URL: it does not parse; use "
                 "postgres://USER:PASSWORD@HOST:PORT/DATABASE with "
                 "special characters percent-encoded");
        return STORE_INVALID;
    }

    PGconn *conn = connect_url(url);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        redact(message, sizeof message,
               conn != NULL ? PQerrorMessage(conn) : "out of memory", password);
        snprintf(err, errlen,
                 "cannot connect to PostgreSQL: %s; check that the server "
                 "is running and the URL's host, port, user, password and "
                 "database",
                 message);
        PQfinish(conn);
        return STORE_ERROR;
    }

    struct pg_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        PQfinish(conn);
        snprintf(err, errlen, "out of memory opening the PostgreSQL store");
        return STORE_ERROR;
    }
    PQsetNoticeProcessor(conn, log_notice, NULL);
    s->base.ops = &pg_ops;
    s->conn = conn;
    s->backoff_ms = 100;
    *out = &s->base;
    return STORE_OK;
}

int pg_wake_fd(struct store *store)
{
    struct pg_store *s = pg_store_of(store);

    if (PQstatus(s->conn) != CONNECTION_OK)
        return -1;
    if (!s->listening && pg_listen(s) != STORE_OK) {
        log_warn("store", "cannot subscribe to wake-ups: %s", s->base.errmsg);
        return -1;
    }
    return PQsocket(s->conn);
}

int pg_consume_wakeups(struct store *store)
{
    struct pg_store *s = pg_store_of(store);
    int count = s->pending_wakeups;
    PGnotify *notify;

    s->pending_wakeups = 0;
    if (PQstatus(s->conn) != CONNECTION_OK)
        return count;

    /* A socket that turned readable and yields nothing means the link
     * broke: report a wake-up so that the caller's next operation
     * notices and reconnects. */
    if (!PQconsumeInput(s->conn)) {
        log_warn("store", "reading wake-ups failed, the connection to "
                          "PostgreSQL broke");
        return count + 1;
    }
    while ((notify = PQnotifies(s->conn)) != NULL) {
        count++;
        PQfreemem(notify);
    }
    return count;
}
