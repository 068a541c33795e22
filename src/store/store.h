/*
 * The storage interface: every durable read and write of pubq goes
 * through a struct store, whose operations each back end (SQLite,
 * PostgreSQL) implements behind the same contract.
 *
 * Calling sequence:
 *
 *   struct store *store;
 *   char err[STORE_ERR_MAX];
 *
 *   if (store_open("pubq.db", &store, err, sizeof err) != STORE_OK)
 *       die(err);
 *   store_migrate(store);
 *   ... store->ops->submit_jobs(store, ...) ...
 *   store_close(store);
 *
 * Rules every back end follows:
 *
 * - Each operation is one transaction: it commits whole or changes
 *   nothing. Each state change writes its audit record in the same
 *   transaction.
 * - Transitions are conditional on the state the caller read (status,
 *   attempt number, lease). A transition whose condition no longer holds
 *   returns STORE_CONFLICT and writes nothing.
 * - Times are milliseconds since the Unix epoch, UTC. 0 means "none".
 * - On failure an operation returns a negative enum store_result and
 *   store_errmsg() describes it until the next call on the same store.
 * - A struct store is used by one thread at a time.
 */
#ifndef PUBQ_STORE_H
#define PUBQ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/entry_state.h"
#include "core/outcome.h"

#define STORE_ERR_MAX 512
#define STORE_ID_MAX 256       /* content item id, event id: bytes + NUL */
#define STORE_NAME_MAX 64      /* platform name, node id, action, agent */
#define STORE_KEY_MAX 96       /* idempotency key */
#define STORE_URL_MAX 1024     /* published post URL */
#define STORE_TEXT_MAX 1024    /* error text; longer text is truncated */

enum store_result {
    STORE_OK = 0,
    STORE_NOT_FOUND = -1, /* no row with that id or name */
    STORE_CONFLICT = -2,  /* the row changed since it was read */
    STORE_INVALID = -3,   /* the request breaks a rule; nothing written */
    STORE_BUSY = -4,      /* another writer held the lock too long */
    STORE_FULL = -5,      /* disk full, read-only or file deleted */
    STORE_ERROR = -6,     /* any other database or I/O error */
};

/* One job to create: a content item published to several platforms. */
struct job_request {
    const char *event_id;     /* dedupe key, or NULL for none */
    const char *content_id;   /* the caller's content item id */
    const char *content_json; /* content object as JSON text */
    int64_t scheduled_at;     /* due time; the job is due at once if past */
    const char *const *platforms;
    size_t platform_count;
    uint32_t max_retries; /* of every entry, unless the array below is set */
    /*
     * max_retries of each entry, platform_count items in the order of
     * `platforms`, or NULL to give every entry max_retries.
     */
    const uint32_t *platform_max_retries;
    const char *source; /* who sent it: "cli", "import", "api", "event" */
};

struct submit_result {
    int64_t job_id; /* 0 when a duplicate's id belongs to no job */
    int duplicate;  /* 1: the event id was seen before, nothing created */
    /*
     * The id of the new job's first entry. Its entries have consecutive
     * ids from this one, in the order of the request's platforms. 0 for
     * a duplicate and where the back end does not report it (then list
     * the job's entries).
     */
    int64_t first_entry_id;
};

/*
 * The jobs of one caller inside submit_groups: stored whole or not at
 * all, as one submit_jobs call would store them.
 */
struct submit_group {
    const struct job_request *reqs;
    size_t count;
    struct submit_result *results; /* room for `count` items */
    int result;                    /* set by submit_groups */
    char errmsg[STORE_ERR_MAX];    /* why `result` failed, or "" */
};

/*
 * A cancel or reschedule of the entries of one content item that have
 * not started, as a publishing.cancelled or publishing.rescheduled
 * event requests it.
 */
struct content_change_request {
    const char *event_id; /* dedupe key, or NULL for none */
    const char *content_id;
    const char *const *platforms; /* NULL with count 0: every platform */
    size_t platform_count;
    int64_t new_due;   /* reschedule_content only: the new due time */
    const char *agent; /* audit agent; NULL or "" means "operator" */
};

struct content_change_result {
    size_t changed; /* entries changed */
    int duplicate;  /* 1: the event id was seen before, nothing changed */
};

struct job {
    int64_t id;
    char content_id[STORE_ID_MAX];
    char event_id[STORE_ID_MAX]; /* empty when the job had none */
    char *content_json;          /* heap; job_clear frees it */
    int64_t scheduled_at;
    int64_t created_at;
};

struct entry {
    int64_t id;
    int64_t job_id;
    char content_id[STORE_ID_MAX];
    char platform[STORE_NAME_MAX];
    enum entry_status status;
    uint32_t retry_count;
    uint32_t max_retries;
    uint32_t attempt_count; /* attempts started, including the current */
    int64_t scheduled_at;   /* the job's requested time */
    int64_t due_at;         /* when the next attempt may start */
    int64_t rate_limit_waited_ms;
    char idempotency_key[STORE_KEY_MAX]; /* the same on every attempt */
    char lease_node[STORE_NAME_MAX];     /* empty when not leased */
    int64_t lease_expires_at;
    int64_t published_at;
    char post_id[STORE_ID_MAX];
    char post_url[STORE_URL_MAX];
    char last_error[STORE_TEXT_MAX];
    char fail_reason[STORE_NAME_MAX]; /* "expired", "outcome unknown", .. */
    int64_t created_at;
    int64_t updated_at;
};

struct entry_list {
    struct entry *items;
    size_t count;
};

struct attempt {
    int64_t id;
    int64_t entry_id;
    uint32_t number; /* 1 for the first attempt */
    int64_t started_at;
    int64_t ended_at; /* 0 while running */
    int finished;     /* 0 while running or when the node died */
    enum outcome outcome;
    int http_status; /* 0 when there was no HTTP answer */
    int64_t latency_ms;
    char node[STORE_NAME_MAX];
    char error[STORE_TEXT_MAX];
};

struct attempt_list {
    struct attempt *items;
    size_t count;
};

struct audit_record {
    int64_t id;
    int64_t at;
    char agent_name[STORE_NAME_MAX];
    char action[STORE_NAME_MAX];
    char job_id[STORE_ID_MAX]; /* the content item id */
    int64_t entry_id;          /* 0 when the record is not about one */
    char platform[STORE_NAME_MAX];
    char status[STORE_NAME_MAX];
    char *metadata_json; /* heap; audit_list_free frees it */
};

struct audit_list {
    struct audit_record *items;
    size_t count;
};

/*
 * Filters select rows that match every field set. Strings are NULL and
 * times 0 when unused. Lists return the newest rows first (highest id);
 * to read the next page pass the last id returned as `before_id`.
 */
struct entry_filter {
    int has_status;
    enum entry_status status;
    const char *platform;
    const char *content_id;
    int64_t job_id;
    int64_t scheduled_from; /* scheduled_at >= this */
    int64_t scheduled_to;   /* scheduled_at < this */
    int64_t before_id;
    size_t limit; /* 0 means 100 */
    /*
     * Change feed: when not 0, selects entries with updated_at >
     * updated_since, or updated_at == updated_since and id >
     * updated_after_id, ordered by (updated_at, id) ascending instead of
     * newest first. Pass the last row's updated_at and id to read on.
     */
    int64_t updated_since;
    int64_t updated_after_id;
};

struct audit_filter {
    const char *job_id;
    const char *action;
    const char *platform;
    int64_t from; /* at >= this */
    int64_t to;   /* at < this */
    int64_t before_id;
    size_t limit; /* 0 means 100 */
};

/*
 * The result of one attempt, applied by complete_attempts. The update
 * applies only while the entry is still `publishing` under the same
 * lease node and attempt number.
 */
struct attempt_completion {
    int64_t entry_id;
    uint32_t attempt_number;
    const char *node;

    enum entry_status next_status; /* published, retrying or failed */
    uint32_t retry_count;
    int64_t due_at; /* next attempt time when retrying */
    int64_t rate_limit_waited_ms;
    const char *fail_reason; /* when failed, or NULL */

    enum outcome outcome;
    int http_status;
    int64_t started_at; /* when the request was sent; 0 keeps the claim's */
    int64_t ended_at;
    int64_t latency_ms;
    const char *error; /* NULL on success */
    const char *post_id;
    const char *post_url;

    int64_t pause_until;      /* pause the platform until then, or 0 */
    const char *pause_reason; /* required when pause_until is set */

    /* No request was sent (the entry is held after an unknown outcome):
     * the store deletes the attempt the claim opened and takes it off
     * attempt_count instead of closing it, so only real attempts count. */
    int not_attempted;
};

/* One lease for renew_leases: the entry and the attempt that runs. */
struct lease_renewal {
    int64_t entry_id;
    uint32_t attempt_number;
    int renewed; /* set by renew_leases: the lease is still this node's */
};

/* One attempt claimed ahead, as start_claimed reads and marks it. */
struct claim_start {
    int64_t entry_id;
    uint32_t attempt_number; /* the entry's attempt_count at the claim */
    int64_t due_at;          /* the entry's due time at the claim */
    int started;             /* set by start_claimed */
};

/* The claim of complete_and_claim: claim_due's arguments, and `batch`,
 * the largest number of entries one claim statement takes. The
 * PostgreSQL store claims the whole `max` in one statement instead. */
struct claim_request {
    const char *node;
    const char *const *platforms;
    size_t platform_count;
    int64_t now;
    int64_t lease_ms;
    size_t max;
    size_t batch;
};

struct platform_state {
    char platform[STORE_NAME_MAX];
    int64_t paused_until; /* 0: not paused; INT64_MAX: until resumed */
    char pause_reason[STORE_TEXT_MAX];
    int64_t updated_at;
};

struct platform_state_list {
    struct platform_state *items;
    size_t count;
};

struct sweep_result {
    size_t requeued;  /* failed entries put back to pending */
    size_t recovered; /* expired leases recovered */
    int skipped;      /* 1: another run already took this tick */
};

/* Upper bounds of the latency buckets of attempt_stats, in ms. */
#define STORE_LATENCY_BUCKETS 12
extern const int64_t store_latency_bounds_ms[STORE_LATENCY_BUCKETS];

/* Attempt totals of one platform, for metrics. */
struct attempt_stats {
    char platform[STORE_NAME_MAX];
    int64_t by_outcome[OUTCOME_COUNT]; /* attempts that ended */
    int64_t retries; /* attempts after the first of their entry */
    /* Finished attempts with latency_ms <= store_latency_bounds_ms[i]. */
    int64_t latency_buckets[STORE_LATENCY_BUCKETS];
    int64_t latency_count; /* finished attempts */
    int64_t latency_sum_ms;
};

struct attempt_stats_list {
    struct attempt_stats *items;
    size_t count;
};

struct status_counts {
    int64_t by_status[ENTRY_STATUS_COUNT];
};

struct store;

struct store_ops {
    /* Applies every schema migration not yet applied. */
    int (*migrate)(struct store *store);

    /* Sets *version to the newest migration applied, 0 when none. */
    int (*schema_version)(struct store *store, int *version);

    /*
     * Creates jobs and their entries, one per platform, plus one
     * "accepted" audit record per job; all of them or none. A request
     * whose event id was seen before creates nothing and sets
     * results[i].duplicate, with the first job's id (0 when the id was
     * used by a cancel or reschedule). `results` has room for `count`
     * items.
     */
    int (*submit_jobs)(struct store *store, const struct job_request *reqs,
                       size_t count, int64_t now,
                       struct submit_result *results);

    /*
     * Stores several groups of jobs in one transaction, so that one
     * commit (one sync of the log) serves them all. Each group gets the
     * result and errmsg that submit_jobs would give it alone: a group
     * that fails (invalid request, constraint) stores nothing, and the
     * others are stored. An event id repeated in two groups creates one
     * job; the later group reports a duplicate. Returns STORE_OK when
     * the transaction committed, even if some groups failed; else the
     * failure, which then is the result of every group that passed its
     * checks, and nothing is stored. NULL where a back end has no such
     * operation: call it through store_submit_groups, which then runs
     * submit_jobs per group.
     */
    int (*submit_groups)(struct store *store, struct submit_group *groups,
                         size_t count, int64_t now);

    /* Fills *job; job_clear frees its content. STORE_NOT_FOUND if none. */
    int (*get_job)(struct store *store, int64_t job_id, struct job *job);

    int (*get_entry)(struct store *store, int64_t entry_id,
                     struct entry *entry);

    /* Lists entries; entry_list_free frees the list. */
    int (*list_entries)(struct store *store,
                        const struct entry_filter *filter,
                        struct entry_list *list);

    /* Lists an entry's attempts, oldest first. */
    int (*list_attempts)(struct store *store, int64_t entry_id,
                         struct attempt_list *list);

    /* Counts entries by status, for one platform or (NULL) all. */
    int (*count_entries)(struct store *store, const char *platform,
                         struct status_counts *counts);

    /*
     * Claims up to `max` entries that are pending or retrying, due at or
     * before `now`, on a platform that is not paused, oldest due first:
     * each becomes `publishing` with a lease for `node` until
     * now + lease_ms, its attempt_count grows by one and an attempt row
     * is started.
     *
     * Only entries of the `platform_count` platforms in `platforms` (the
     * platforms this node serves) are claimed. Entries of other
     * platforms stay as they are, for the nodes that serve them. A
     * count of 0 claims nothing. STORE_INVALID when `platforms` is NULL
     * with a count above 0 or a name is empty or too long.
     *
     * The cost of the claim does not grow with the number of entries
     * that are not due, but due entries of paused platforms or of
     * platforms outside the set are read and skipped one by one.
     */
    int (*claim_due)(struct store *store, const char *node,
                     const char *const *platforms, size_t platform_count,
                     int64_t now, int64_t lease_ms, size_t max,
                     struct entry_list *list);

    /*
     * Sets *due_at to the earliest due time of a pending or retrying
     * entry on a platform that is not paused, or of a pause ending,
     * considering only the `platform_count` platforms in `platforms`.
     * STORE_NOT_FOUND when nothing of those platforms waits, and always
     * for a count of 0.
     */
    int (*next_due_at)(struct store *store, const char *const *platforms,
                       size_t platform_count, int64_t *due_at);

    /*
     * Claim ahead: claims up to `max` entries as claim_due does, but of
     * those due after `now` and at or before `until`, oldest due first.
     * Each becomes `publishing` with a lease for `node` until
     * due_at + lease_ms and an attempt row whose started_at is 0: the
     * attempt is not started until start_claimed starts it.
     *
     * Until then the entry is only reserved. A cancel or reschedule, a
     * lease recovery or a lease release puts it back as it was before
     * the claim (status, due time, attempt_count, retry_count) and
     * removes the attempt row, so it uses no retry and counts as no
     * attempt.
     *
     * NULL in a back end that cannot claim ahead.
     */
    int (*claim_ahead)(struct store *store, const char *node,
                       const char *const *platforms, size_t platform_count,
                       int64_t now, int64_t until, int64_t lease_ms,
                       size_t max, struct entry_list *list);

    /*
     * Starts attempts claimed ahead, in one transaction: each of the
     * `count` claims whose entry is still publishing under `node` with
     * the same attempt number and due time, and whose attempt has not
     * started, gets started_at = now and claims[i].started = 1. The
     * others (cancelled, rescheduled or recovered meanwhile) get 0 and
     * must not be attempted. A cancel, which checks the same attempt
     * row inside its own transaction, either wins before this call or
     * finds the attempt started.
     *
     * Both back ends commit this transaction without waiting for the
     * disk (SQLite: synchronous=NORMAL for this one commit; PostgreSQL:
     * synchronous_commit off), so that the attempts start within
     * milliseconds of their due time. A crash of pubq keeps the mark. A
     * power loss, or a crash of the database server, right after it can
     * undo it, and the entries are then recovered as never attempted.
     *
     * NULL in a back end that cannot claim ahead.
     */
    int (*start_claimed)(struct store *store, const char *node,
                         struct claim_start *claims, size_t count,
                         int64_t now);

    /*
     * Reads, without changing them, the rows that start_claimed would
     * read and change for these claims, so that they are in the
     * handle's cache at the due time. Changes nothing; a failure only
     * leaves the cache cold.
     *
     * NULL in a back end whose start_claimed gains nothing from it.
     */
    int (*warm_claimed)(struct store *store, const char *node,
                        const struct claim_start *claims, size_t count);

    /*
     * Applies attempt results in one transaction. applied[i] is 1 when
     * completion i was written and 0 when its entry had moved on (lost
     * race). Writes the retry audit records, pauses platforms, and the
     * job's "publish" audit record once every entry of the job finished
     * its first round.
     */
    int (*complete_attempts)(struct store *store,
                             const struct attempt_completion *completions,
                             size_t count, int *applied);

    /*
     * complete_attempts of the `count` completions and claim_due of up
     * to claim->max entries, in claims of claim->batch entries at most
     * (one claim of claim->max on PostgreSQL), in one transaction, so
     * that one commit (one sync of the log or one WAL flush) serves
     * both. Each part follows the rules of its own
     * operation, and the list is in due order. When either part fails
     * nothing is written: every applied[i] is 0 and the list is empty.
     * A count of 0 only claims, and claim->max 0 only completes.
     * NULL where a back end has none; then call the two operations.
     */
    int (*complete_and_claim)(struct store *store,
                              const struct attempt_completion *completions,
                              size_t count, int *applied,
                              const struct claim_request *claim,
                              struct entry_list *list);

    /*
     * Extends the leases of `node` on the `count` entries in `leases`
     * to now + lease_ms while their attempts run, so that a slow attempt
     * is not recovered and posted again elsewhere; a lease that already
     * runs longer (an entry claimed ahead) is kept. Only an entry still
     * publishing, leased by `node`, in the same attempt is extended, and
     * its `renewed` is set; *renewed counts those. The others were
     * recovered, cancelled or finished meanwhile, and their attempts
     * must not start. Writes no audit record: the entry's state does not
     * change.
     */
    int (*renew_leases)(struct store *store, const char *node,
                        struct lease_renewal *leases, size_t count,
                        int64_t now, int64_t lease_ms, size_t *renewed);

    /*
     * Gives up leases of `node` on entries still publishing (graceful
     * shutdown): they return to their previous due state without using
     * a retry, and their open attempts are closed as abandoned.
     */
    int (*release_leases)(struct store *store, const char *node, int64_t now,
                          size_t *released);

    /*
     * Recovers entries whose lease expired before `now`: with retries
     * left they become retrying (retry_count + 1, due now), else failed;
     * the open attempt is closed as unknown. One "lease_recovered" audit
     * record per entry.
     */
    int (*recover_leases)(struct store *store, int64_t now,
                          size_t *recovered);

    /*
     * The sweeper: recovers expired leases, then moves every failed
     * entry with retry_count < max_retries, except those that failed as
     * "expired" or "outcome unknown", back to pending (retry_count + 1,
     * due now). Writes one "sweep" audit record with the counts.
     *
     * `tick_at` is the scheduled cron time the run belongs to, or 0 for
     * a run by hand, which always runs. The tick is recorded in the same
     * transaction, so of several nodes sweeping the same tick only the
     * first does the work; the others change nothing and return
     * STORE_OK with result->skipped set.
     */
    int (*sweep)(struct store *store, int64_t now, int64_t tick_at,
                 const char *agent, struct sweep_result *result);

    /* Manual retry: failed -> pending now, retry_count 0, history kept. */
    int (*retry_entry)(struct store *store, int64_t entry_id, int64_t now,
                       const char *agent);

    /* Cancels an entry that is pending, retrying or failed. */
    int (*cancel_entry)(struct store *store, int64_t entry_id, int64_t now,
                        const char *agent);

    /* Failed -> published, when an operator confirms an unknown outcome. */
    int (*mark_published)(struct store *store, int64_t entry_id,
                          int64_t now, const char *agent);

    /*
     * Cancels the entries of a content item that are pending, retrying
     * or failed (reschedule: moves those pending or retrying to
     * `new_due`), on the given platforms or all, and fills *result.
     * Event ids share one namespace with submit_jobs: a request whose
     * event id was seen before, from an event of any name, changes
     * nothing and sets result->duplicate. The event id is recorded in
     * the same transaction as the change. STORE_NOT_FOUND when the
     * content item was never submitted; then nothing is written, the
     * event id included.
     */
    int (*cancel_content)(struct store *store,
                          const struct content_change_request *request,
                          int64_t now, struct content_change_result *result);
    int (*reschedule_content)(struct store *store,
                              const struct content_change_request *request,
                              int64_t now,
                              struct content_change_result *result);

    /* Pauses a platform until `until` (INT64_MAX: until resumed). */
    int (*pause_platform)(struct store *store, const char *platform,
                          int64_t until, const char *reason, int64_t now,
                          const char *agent);
    int (*resume_platform)(struct store *store, const char *platform,
                           int64_t now, const char *agent);
    int (*list_platform_states)(struct store *store,
                                struct platform_state_list *list);

    /*
     * Reads and writes an adapter's private state for a platform (for
     * example a session token) as JSON text. get sets *json to a heap
     * string the caller frees, or returns STORE_NOT_FOUND.
     */
    int (*get_platform_data)(struct store *store, const char *platform,
                             char **json);
    int (*set_platform_data)(struct store *store, const char *platform,
                             const char *json, int64_t now);

    int (*list_audit)(struct store *store, const struct audit_filter *filter,
                      struct audit_list *list);

    void (*close)(struct store *store);

    /*
     * Totals over every attempt ever started, one item per platform
     * that has attempts; attempt_stats_list_free frees the list. Reads
     * the whole attempts table, so call it at scrape rate, not per
     * request.
     */
    int (*attempt_stats)(struct store *store,
                         struct attempt_stats_list *list);

    /*
     * Optional wake-ups from other processes: NULL in a back end that
     * has none (SQLite). wake_fd returns a socket to poll for reading,
     * or -1 when there is none right now (for example while the
     * database is unreachable). It may change after a reconnect, so
     * callers ask again before every poll. The first call subscribes
     * this store's connection to wake-ups. consume_wakeups reads what
     * has arrived, without blocking, and returns how many wake-ups were
     * pending (0 when none). Wake-ups can also arrive while another
     * operation runs, so call it before deciding how long to sleep, not
     * only when the socket is readable.
     */
    int (*wake_fd)(struct store *store);
    int (*consume_wakeups)(struct store *store);

    /*
     * Optional: keeps this handle's cache of database pages small
     * (STORE_SMALL_CACHE_KIB), for a process that opens many handles.
     * NULL in a back end that caches no pages in the client
     * (PostgreSQL).
     */
    int (*shrink_cache)(struct store *store);

    /* Optional: see store_check_health. */
    int (*check_health)(struct store *store);
};

/* The fields every back end shares; back ends embed it first. */
struct store {
    const struct store_ops *ops;
    char errmsg[STORE_ERR_MAX];
};

/*
 * Opens the store named by `url`: "postgres://..." or "postgresql://..."
 * for PostgreSQL, "sqlite:PATH" or a plain PATH for SQLite. Does not
 * migrate. Returns STORE_OK and sets *store, or a negative result with a
 * message in err.
 */
int store_open(const char *url, struct store **store, char *err,
               size_t errlen);

/*
 * Like store_open, but a SQLite file that does not exist is not created:
 * STORE_INVALID with a message naming it. For handles a running process
 * opens after start-up, when a missing file means it was deleted.
 */
int store_open_existing(const char *url, struct store **store, char *err,
                        size_t errlen);

/*
 * Returns STORE_OK while the store can serve, for a health check. For
 * SQLite that means the database path still names the file the handle
 * has open. A back end without such a check (PostgreSQL, where a failed
 * query shows the same) always returns STORE_OK.
 */
static inline int store_check_health(struct store *store)
{
    if (store->ops->check_health == NULL)
        return STORE_OK;
    return store->ops->check_health(store);
}

static inline int store_migrate(struct store *store)
{
    return store->ops->migrate(store);
}

static inline void store_close(struct store *store)
{
    if (store != NULL)
        store->ops->close(store);
}

static inline const char *store_errmsg(const struct store *store)
{
    return store->errmsg;
}

/* Returns the wake-up socket, or -1 when the back end has none. */
static inline int store_wake_fd(struct store *store)
{
    return store->ops->wake_fd != NULL ? store->ops->wake_fd(store) : -1;
}

/* Returns how many wake-ups were pending, or 0 without wake-ups. */
static inline int store_consume_wakeups(struct store *store)
{
    if (store->ops->consume_wakeups == NULL)
        return 0;
    return store->ops->consume_wakeups(store);
}

/* The page cache of a handle after store_shrink_cache, in KiB. */
#define STORE_SMALL_CACHE_KIB 256

/* Returns STORE_OK also when the back end has no page cache. */
static inline int store_shrink_cache(struct store *store)
{
    if (store->ops->shrink_cache == NULL)
        return STORE_OK;
    return store->ops->shrink_cache(store);
}

const char *store_result_name(int result);

/*
 * Calls store->ops->submit_groups. When the back end has none, calls
 * submit_jobs once per group, each group in its own transaction, and
 * returns STORE_OK with each group's own result.
 */
int store_submit_groups(struct store *store, struct submit_group *groups,
                        size_t count, int64_t now);

void job_clear(struct job *job);
void entry_list_free(struct entry_list *list);
/* Moves the items of `from` to the end of `to`; -1 when out of memory,
 * and then both lists stay as they were. */
int entry_list_append(struct entry_list *to, struct entry_list *from);
void attempt_list_free(struct attempt_list *list);
void audit_list_free(struct audit_list *list);
void platform_state_list_free(struct platform_state_list *list);
void attempt_stats_list_free(struct attempt_stats_list *list);

#endif
