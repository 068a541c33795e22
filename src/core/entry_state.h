/*
 * Queue entry state machine: the statuses of one (job, platform) pair and
 * the events that move it between them. Pure logic, no storage.
 *
 *   pending --claim--> publishing --succeed--> published
 *   publishing --retry_later | recover--> retrying --claim--> publishing
 *   publishing --fail--> failed --requeue--> pending
 *   pending | retrying | failed --cancel--> cancelled
 */
#ifndef PUBQ_CORE_ENTRY_STATE_H
#define PUBQ_CORE_ENTRY_STATE_H

#include <stddef.h>

enum entry_status {
    ENTRY_PENDING,
    ENTRY_PUBLISHING,
    ENTRY_PUBLISHED,
    ENTRY_RETRYING,
    ENTRY_FAILED,
    ENTRY_CANCELLED,
};

#define ENTRY_STATUS_COUNT 6

enum entry_event {
    /* pending | retrying -> publishing: a node claims a due entry. */
    ENTRY_EV_CLAIM,
    /* publishing -> published: the platform accepted the post. */
    ENTRY_EV_SUCCEED,
    /* publishing -> retrying: transient error or rate-limit wait. */
    ENTRY_EV_RETRY_LATER,
    /*
     * publishing -> failed after a permanent error or the last retry, and
     * pending | retrying -> failed when the entry expired.
     */
    ENTRY_EV_FAIL,
    /* publishing -> retrying: the claiming node's lease expired. */
    ENTRY_EV_RECOVER,
    /* failed -> pending: the sweeper or a manual retry re-queues it. */
    ENTRY_EV_REQUEUE,
    /* pending | retrying | failed -> cancelled. */
    ENTRY_EV_CANCEL,
    /* pending | retrying -> pending: the due time moved. */
    ENTRY_EV_RESCHEDULE,
    /* failed -> published: an operator confirms an unknown outcome. */
    ENTRY_EV_MARK_PUBLISHED,
};

#define ENTRY_EVENT_COUNT 9

/*
 * Returns the lowercase name of a status ("pending", "publishing", ...),
 * or "invalid" for a value outside the enum. The string is static.
 */
const char *entry_status_name(enum entry_status status);

/*
 * Parses a status name as returned by entry_status_name (exact,
 * lowercase). Returns 0 and sets *out, or -1 for NULL or an unknown name,
 * leaving *out unchanged.
 */
int entry_status_parse(const char *name, enum entry_status *out);

/*
 * Returns the lowercase name of an event ("claim", "succeed",
 * "retry_later", ...), or "invalid" for a value outside the enum. The
 * string is static.
 */
const char *entry_event_name(enum entry_event event);

/*
 * Whether only the store can tell if `event` is allowed from `from`: an
 * entry claimed ahead of its due time is `publishing` before its attempt
 * starts, and a cancel then still wins (the store puts the claim back).
 * Callers that check entry_transition before asking the store skip that
 * check when this returns 1; the store's conditional write decides.
 */
int entry_store_decides(enum entry_status from, enum entry_event event);

/*
 * Computes the status that follows `from` on `event`. Returns 0 and sets
 * *to, or -1 when the transition is not allowed (or either value is out of
 * range): *to is then unchanged and err (if not NULL) receives a message
 * such as "cannot cancel an entry that is published; only pending,
 * retrying or failed entries can be cancelled".
 */
int entry_transition(enum entry_status from, enum entry_event event,
                     enum entry_status *to, char *err, size_t errlen);

#endif
