/*
 * The commands' data over the daemon's HTTP API (--url): each function
 * fetches or changes what the command would read or write in the
 * database, and returns it in the store's structs for the same
 * render_* output. Each returns 0, or -1 after printing the error in
 * the words the command uses with a database.
 */
#ifndef PUBQ_CLI_REMOTE_H
#define PUBQ_CLI_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"
#include "intake/intake.h"
#include "store/store.h"

/*
 * Returns the configuration that intake checks input against: the local
 * one, or with --url one holding the daemon's platforms (fetched once).
 * Returns NULL after printing the error.
 */
const struct pubq_config *remote_intake_config(struct cli *cli);

int remote_list_entries(struct cli *cli, const struct entry_filter *filter,
                        struct entry_list *list);

/* Fetches an entry, its attempts and its job; job_clear frees *job. */
int remote_entry_detail(struct cli *cli, int64_t id, struct entry *entry,
                        struct attempt_list *attempts, struct job *job);

/* POST /v1/entries/ID/ACTION ("retry", "cancel"); fills the new entry. */
int remote_entry_action(struct cli *cli, const char *action, const char *verb,
                        int64_t id, struct entry *entry);

int remote_list_audit(struct cli *cli, const struct audit_filter *filter,
                      struct audit_list *list);

/*
 * Submits validated jobs as one request of publishing.scheduled events,
 * stored all or none. Fills results[i]. On failure fills err with the
 * daemon's field and message.
 */
int remote_submit_jobs(struct cli *cli, const struct intake_job *jobs,
                       size_t count, struct submit_result *results, char *err,
                       size_t errlen);

/*
 * Submits validated jobs in requests of publishing.scheduled events of
 * about `max_body` bytes each (remote_import.c). The daemon stores each
 * request all or none. When it rejects a request as too large (413),
 * the rows are sent again in smaller requests. Returns 0 with results[i]
 * filled, or -1 with err filled; either way *stored is the number of
 * rows, from the first, that were stored.
 */
int remote_import_jobs(struct cli *cli, const struct intake_job *jobs,
                       size_t count, size_t max_body,
                       struct submit_result *results, size_t *stored, char *err,
                       size_t errlen);

/* Lists the entries of a job, newest first. */
int remote_job_entries(struct cli *cli, int64_t job_id,
                       struct entry_list *list);

#endif
