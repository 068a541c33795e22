/*
 * The e-mail message of the smtp adapter: one text/plain part in UTF-8,
 * quoted-printable (RFC 2045), with a subject in RFC 2047 encoded-words
 * unless it is short plain ASCII, and CRLF line ends (RFC 5322).
 *
 *   struct smtp_message_fields fields = {.from = "news@example.org", ...};
 *   size_t len;
 *   char *text = smtp_message_compose(&fields, &len);
 *   ... send text ...
 *   free(text);
 */
#ifndef PUBQ_SMTP_MESSAGE_H
#define PUBQ_SMTP_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct smtp_message_fields {
    int64_t date_ms;       /* the Date header, Unix time in ms */
    const char *from;      /* one address */
    const char *const *to; /* to_count addresses */
    size_t to_count;
    const char *subject;    /* UTF-8 without CR or LF */
    const char *message_id; /* "<left@domain>" */
    const char *body;       /* UTF-8; LF, CRLF or CR line ends */
};

/*
 * Checks an address in the plain local@domain form that pubq accepts.
 * It is printable ASCII without spaces, quotes, brackets, parentheses,
 * commas, colons, semicolons or backslashes, with one '@'. The local
 * part has at most 64 bytes and the domain at most 255 (RFC 5321
 * section 4.5.3.1). Returns 1 when valid, else 0.
 */
int smtp_address_valid(const char *address);

/*
 * Returns 1 when text contains CR or LF, which would end a header line
 * early and let the rest pose as further headers.
 */
int smtp_has_line_break(const char *text);

/*
 * Writes "Subject: " and the subject with its line end. ASCII text that
 * fits on one line is written as is. Other text becomes "=?UTF-8?B?...?="
 * encoded-words of at most 75 characters on lines of at most 76, and
 * each word contains whole UTF-8 characters (RFC 2047 sections 2, 5).
 */
void smtp_message_write_subject(FILE *out, const char *subject);

/*
 * Writes text as quoted-printable with CRLF line ends and lines of at
 * most 76 characters (RFC 2045 section 6.7).
 */
void smtp_message_write_quoted_printable(FILE *out, const char *text);

/*
 * Composes the whole message: headers, a blank line and the body.
 * Returns a string the caller frees, with its length in *len, or NULL
 * when out of memory. Callers check the fields first: addresses with
 * smtp_address_valid, the subject with smtp_has_line_break.
 */
char *smtp_message_compose(const struct smtp_message_fields *fields,
                           size_t *len);

#endif
