/*
 * Composes the message here rather than with libcurl's MIME API,
 * because that API always wraps the body in multipart/mixed and has no
 * RFC 2047 encoder for the subject. A single text/plain part is what
 * newsletter readers and list archives expect.
 */
#include "publish/smtp_message.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "util/banned.h"

/* RFC 5322 section 2.1.1: lines SHOULD stay within 78 characters. */
#define SMTP_LINE_MAX 78
/* RFC 2047 section 2: a line with encoded-words has at most 76. */
#define SMTP_ENCODED_LINE_MAX 76
#define SMTP_ENCODED_WORD_MAX 75
/* RFC 2045 section 6.7 rule 5: encoded lines of at most 76 characters. */
#define SMTP_QP_LINE_MAX 76

int smtp_has_line_break(const char *text)
{
    return strpbrk(text, "\r\n") != NULL;
}

static int is_address_char(char c)
{
    return c > 0x20 && c < 0x7f && strchr("\"<>()[],;:\\", c) == NULL;
}

int smtp_address_valid(const char *address)
{
    const char *at = strchr(address, '@');
    size_t local, domain;

    if (at == NULL || strchr(at + 1, '@') != NULL)
        return 0;
    local = (size_t)(at - address);
    domain = strlen(at + 1);
    if (local == 0 || local > 64 || domain == 0 || domain > 255)
        return 0;
    for (const char *p = address; *p; p++) {
        if (*p != '@' && !is_address_char(*p))
            return 0;
    }
    return at[1] != '.' && address[local + domain] != '.';
}

/* Writes the Date header value, e.g. "Tue, 14 Nov 2023 22:13:20 +0000". */
static void write_date(FILE *out, int64_t epoch_ms)
{
    /* Fixed English names: strftime's %a and %b follow the locale. */
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    time_t seconds = (time_t)(epoch_ms / 1000);
    struct tm tm;

    if (gmtime_r(&seconds, &tm) == NULL)
        memset(&tm, 0, sizeof tm);
    fprintf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
            days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
            tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Writes "To: a, b" folded after commas to keep lines short. */
static void write_to(FILE *out, const char *const *to, size_t count)
{
    size_t column = strlen("To: ");

    fputs("To: ", out);
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(to[i]);

        if (i > 0 && column + 2 + len > SMTP_LINE_MAX) {
            fputs(",\r\n ", out);
            column = 1;
        } else if (i > 0) {
            fputs(", ", out);
            column += 2;
        }
        fputs(to[i], out);
        column += len;
    }
    fputs("\r\n", out);
}

static int needs_encoding(const char *subject)
{
    if (strlen("Subject: ") + strlen(subject) > SMTP_LINE_MAX ||
        strstr(subject, "=?") != NULL)
        return 1;
    for (const char *p = subject; *p; p++) {
        unsigned char c = (unsigned char)*p;

        if (c < 0x20 || c >= 0x7f)
            return 1;
    }
    return 0;
}

/*
 * Returns how many bytes of text, at most max, end on a UTF-8 character
 * boundary, so no encoded-word splits a character.
 */
static size_t whole_characters(const char *text, size_t max)
{
    size_t len = strlen(text);

    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)text[max] & 0xC0) == 0x80)
        max--;
    return max;
}

void smtp_message_write_subject(FILE *out, const char *subject)
{
    static const char prefix[] = "Subject: ";
    size_t column = sizeof prefix - 1;
    const char *rest = subject;

    fputs(prefix, out);
    if (!needs_encoding(subject)) {
        fprintf(out, "%s\r\n", subject);
        return;
    }
    do {
        /* "=?UTF-8?B?" and "?=" take 12 of the word's characters. */
        size_t room = SMTP_ENCODED_LINE_MAX - column;
        size_t word =
            room < SMTP_ENCODED_WORD_MAX ? room : SMTP_ENCODED_WORD_MAX;
        size_t chunk = whole_characters(rest, (word - 12) / 4 * 3);
        unsigned char encoded[SMTP_ENCODED_WORD_MAX];

        EVP_EncodeBlock(encoded, (const unsigned char *)rest, (int)chunk);
        fprintf(out, "%s=?UTF-8?B?%s?=", rest == subject ? "" : "\r\n ",
                (const char *)encoded);
        rest += chunk;
        column = 1;
    } while (*rest != '\0');
    fputs("\r\n", out);
}

/* Returns the length of the line ending at text (before CR or LF). */
static size_t line_length(const char *text)
{
    return strcspn(text, "\r\n");
}

/*
 * Encodes one line of the body. Printable ASCII other than '=' stays as
 * is. A space or tab stays unless it ends the line. A '.' that starts
 * the line is encoded too, so the body does not rely on every relay
 * applying and removing SMTP dot-stuffing (RFC 5321 section 4.5.2).
 */
static void write_qp_line(FILE *out, const char *line, size_t len)
{
    size_t column = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        int last = i + 1 == len;
        int literal = (c >= 33 && c <= 126 && c != '=') ||
                      ((c == ' ' || c == '\t') && !last);
        size_t width;

        if (i == 0 && c == '.')
            literal = 0;
        width = literal ? 1 : 3;
        /* A soft break "=" needs one column of the line's 76. */
        if (column + width > SMTP_QP_LINE_MAX - (last ? 0 : 1)) {
            fputs("=\r\n", out);
            column = 0;
        }
        if (literal)
            fputc(c, out);
        else
            fprintf(out, "=%02X", c);
        column += width;
    }
    fputs("\r\n", out);
}

void smtp_message_write_quoted_printable(FILE *out, const char *text)
{
    const char *p = text;

    while (*p != '\0') {
        size_t len = line_length(p);

        write_qp_line(out, p, len);
        p += len;
        if (p[0] == '\r' && p[1] == '\n')
            p += 2;
        else if (p[0] != '\0')
            p++;
    }
}

char *smtp_message_compose(const struct smtp_message_fields *fields,
                           size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    int failed;

    if (out == NULL)
        return NULL;
    write_date(out, fields->date_ms);
    fprintf(out, "From: %s\r\n", fields->from);
    write_to(out, fields->to, fields->to_count);
    smtp_message_write_subject(out, fields->subject);
    fprintf(out, "Message-ID: %s\r\n", fields->message_id);
    fputs("MIME-Version: 1.0\r\n"
          "Content-Type: text/plain; charset=UTF-8\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n"
          "\r\n",
          out);
    smtp_message_write_quoted_printable(out, fields->body);

    failed = ferror(out);
    if (fclose(out) != 0 || failed) {
        free(text);
        return NULL;
    }
    return text;
}
