#include "core/audit_action.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/*
 * NOTE: the store writes these names as literals in src/store/sqlite_*.c
 * and pg_*.c. An action added there must be added here too, or the
 * filter rejects it.
 */
static const char *const action_names[] = {
    "accepted",         /* intake stored a job */
    "publish",          /* the first round of a job finished */
    "retry",            /* an automatic retry was scheduled */
    "manual_retry",     /* an operator moved a failed entry to pending */
    "cancel",           /* an entry was cancelled */
    "reschedule",       /* an entry was moved to another time */
    "mark_published",   /* an operator marked an entry published */
    "sweep",            /* the sweeper ran */
    "lease_recovered",  /* an expired lease was recovered */
    "lease_released",   /* a stopping node gave an entry back */
    "platform_paused",  /* a platform was paused */
    "platform_resumed", /* a platform was resumed */
    NULL,
};

int audit_action_known(const char *name)
{
    for (size_t i = 0; action_names[i] != NULL; i++)
        if (strcmp(name, action_names[i]) == 0)
            return 1;
    return 0;
}

void audit_action_list(char *out, size_t size)
{
    size_t used = 0;

    if (size == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; action_names[i] != NULL && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s",
                                 i == 0 ? "" : ", ", action_names[i]);
}
