/*
 * Checks shared by the intake of a job: strings, URLs and the content
 * object. Each returns 0, or -1 and fills *error with the field and fix.
 */
#ifndef PUBQ_INTAKE_CHECK_H
#define PUBQ_INTAKE_CHECK_H

#include <jansson.h>

#include "intake/intake.h"

/* Flags of intake_check_string. */
#define INTAKE_TEXT_MULTILINE 1 /* allow newline and tab */
#define INTAKE_TEXT_NO_FORMAT 2 /* reject format characters (category Cf) */

/*
 * Fills *error with `field` and a printf-style message; returns -1.
 */
int intake_fail(struct intake_error *error, const char *field, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));

/*
 * Checks that value is a JSON string of valid UTF-8 with no NUL and no
 * control character (newline and tab allowed with INTAKE_TEXT_MULTILINE).
 * With INTAKE_TEXT_NO_FORMAT it also rejects Unicode format characters
 * (general category Cf): bidi controls such as U+202E, which make an id
 * display reversed, and invisible ones such as U+200B and U+FEFF.
 */
int intake_check_string(const json_t *value, const char *field, int flags,
                        struct intake_error *error);

/* Checks that value is a string holding an http or https URL. */
int intake_check_url(const json_t *value, const char *field,
                     struct intake_error *error);

/*
 * Checks the content object: text required, title, link, media, tags
 * and meta typed as documented, and no other key.
 */
int intake_check_content(const json_t *content, struct intake_error *error);

#endif
