/*
 * Names of the audit record actions that the store writes, so that a
 * filter on an action can reject a name that no record ever carries.
 */
#ifndef PUBQ_CORE_AUDIT_ACTION_H
#define PUBQ_CORE_AUDIT_ACTION_H

#include <stddef.h>

/* Returns 1 when `name` is an action the store writes, else 0. */
int audit_action_known(const char *name);

/*
 * Writes the action names into `out` as "accepted, publish, ...", cut
 * to `size` bytes with a NUL at the end.
 */
void audit_action_list(char *out, size_t size);

#endif
