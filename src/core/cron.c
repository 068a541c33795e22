#include "core/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/banned.h"

#define SECONDS_PER_DAY 86400
#define ALL_HOURS ((uint32_t)0xFFFFFF)
#define FIELD_COUNT 5

/* Range and names of one of the five fields. */
struct field_spec {
    const char *name;
    int min;
    int max;
    const char *const *names; /* three-letter names, or NULL */
    int first_named;          /* the value of names[0] */
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY",
                                          "JUN", "JUL", "AUG", "SEP", "OCT",
                                          "NOV", "DEC", NULL};
static const char *const weekday_names[] = {"SUN", "MON", "TUE", "WED",
                                            "THU", "FRI", "SAT", NULL};

static const struct field_spec field_specs[FIELD_COUNT] = {
    {"minute", 0, 59, NULL, 0},
    {"hour", 0, 23, NULL, 0},
    {"day-of-month", 1, 31, NULL, 0},
    {"month", 1, 12, month_names, 1},
    {"day-of-week", 0, 7, weekday_names, 0},
};

/* A slice of the expression text: one field or one list item. */
struct token {
    const char *start;
    size_t length;
};

struct parse_context {
    const char *text;
    const struct field_spec *spec;
    struct token item;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int
reject(const struct parse_context *context, const char *fmt, ...)
{
    char detail[160];
    va_list args;

    va_start(args, fmt);
    vsnprintf(detail, sizeof detail, fmt, args);
    va_end(args);
    snprintf(context->err, context->errlen,
             "invalid cron expression \"%.80s\": %s field \"%.*s\"%s",
             context->text, context->spec->name, (int)context->item.length,
             context->item.start, detail);
    return -1;
}

/* Rejects one value of an item, quoting it when the item has more. */
static int reject_value(const struct parse_context *context, struct token value,
                        const char *problem)
{
    if (value.start == context->item.start &&
        value.length == context->item.length)
        return reject(context, " %s", problem);
    return reject(context, ": \"%.*s\" %s", (int)value.length, value.start,
                  problem);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int read_number(const char **p, const char *end, int *value)
{
    if (*p == end || **p < '0' || **p > '9')
        return -1;

    /* The cap keeps huge numbers from overflowing. They still fail the
     * range check. */
    *value = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (*value < 100000)
            *value = *value * 10 + (**p - '0');
        (*p)++;
    }
    return 0;
}

static int find_name(const struct field_spec *spec, struct token value)
{
    for (int i = 0; spec->names && spec->names[i]; i++) {
        if (value.length == 3 &&
            strncasecmp(value.start, spec->names[i], 3) == 0)
            return spec->first_named + i;
    }
    return -1;
}

/* Reads a number or, where the field has them, a three-letter name. */
static int read_value(const struct parse_context *context, const char **p,
                      const char *end, int *value)
{
    const struct field_spec *spec = context->spec;
    struct token token = {*p, 0};
    char problem[96];

    while (*p + token.length < end && (*p)[token.length] != '-' &&
           (*p)[token.length] != '/')
        token.length++;

    if (read_number(p, end, value) == 0) {
        if (*value >= spec->min && *value <= spec->max)
            return 0;
        snprintf(problem, sizeof problem, "is out of range %d-%d", spec->min,
                 spec->max);
        return reject_value(context, token, problem);
    }

    *value = find_name(spec, token);
    if (*value >= 0) {
        *p += 3;
        return 0;
    }
    if (spec->names)
        snprintf(problem, sizeof problem,
                 "is not a number %d-%d or a name such as %s", spec->min,
                 spec->max, spec->names[0]);
    else
        snprintf(problem, sizeof problem, "is not a number %d-%d", spec->min,
                 spec->max);
    return reject_value(context, token, problem);
}

static int read_step(const struct parse_context *context, const char **p,
                     const char *end, int *step)
{
    int limit = context->spec->max;

    if (read_number(p, end, step) != 0)
        return reject(context, " has no number after \"/\"");
    if (*step < 1 || *step > limit)
        return reject(context, " has step %d, outside 1-%d", *step, limit);
    return 0;
}

/* Reads "*", "a" or "a-b" into first..last. */
static int read_range(const struct parse_context *context, const char **p,
                      const char *end, int *first, int *last, int *has_range)
{
    *has_range = 1;
    if (**p == '*') {
        (*p)++;
        *first = context->spec->min;
        *last = context->spec->max;
        return 0;
    }
    if (read_value(context, p, end, first) != 0)
        return -1;
    *last = *first;
    *has_range = 0;
    if (*p < end && **p == '-') {
        (*p)++;
        if (read_value(context, p, end, last) != 0)
            return -1;
        *has_range = 1;
        if (*first > *last)
            return reject(context, " has range start %d after end %d", *first,
                          *last);
    }
    return 0;
}

static int parse_item(const struct parse_context *context, uint64_t *mask)
{
    const char *p = context->item.start;
    const char *end = p + context->item.length;
    int first;
    int last;
    int has_range;
    int step = 1;

    if (p == end)
        return reject(context, " is empty; remove the extra comma");
    if (read_range(context, &p, end, &first, &last, &has_range) != 0)
        return -1;
    if (p < end && *p == '/') {
        p++;
        if (!has_range)
            return reject(context, " needs a range before \"/\", such "
                                   "as */10 or 0-30/10");
        if (read_step(context, &p, end, &step) != 0)
            return -1;
    }
    if (p != end)
        return reject(context, " has unexpected text \"%.*s\"", (int)(end - p),
                      p);

    for (int value = first; value <= last; value += step)
        *mask |= (uint64_t)1 << value;
    return 0;
}

static int parse_field(struct parse_context *context, struct token field,
                       uint64_t *mask)
{
    const char *p = field.start;
    const char *end = field.start + field.length;

    *mask = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;

        context->item.start = p;
        context->item.length = (size_t)(item_end - p);
        if (parse_item(context, mask) != 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* Splits text at blanks and returns the number of fields found. */
static int split_fields(const char *text, struct token *fields, int max)
{
    const char *p = text;
    int count = 0;

    for (;;) {
        while (is_blank(*p))
            p++;
        if (*p == '\0')
            return count;
        if (count < max)
            fields[count].start = p;
        while (*p != '\0' && !is_blank(*p))
            p++;
        if (count < max)
            fields[count].length = (size_t)(p - fields[count].start);
        count++;
    }
}

static void store_masks(const uint64_t *masks, const struct token *fields,
                        struct cron_expr *out)
{
    uint64_t weekdays = masks[4];

    /* Day of week 7 is another name for Sunday. */
    if (weekdays & (1u << 7))
        weekdays = (weekdays | 1u) & ~(uint64_t)(1u << 7);

    out->minutes = masks[0];
    out->hours = (uint32_t)masks[1];
    out->days_of_month = (uint32_t)masks[2];
    out->months = (uint16_t)masks[3];
    out->days_of_week = (uint8_t)weekdays;
    out->day_of_month_restricted = fields[2].start[0] != '*';
    out->day_of_week_restricted = fields[4].start[0] != '*';
}

int cron_parse(const char *text, struct cron_expr *out, char *err,
               size_t errlen)
{
    struct token fields[FIELD_COUNT];
    struct parse_context context = {text, NULL, {NULL, 0}, err, errlen};
    uint64_t masks[FIELD_COUNT];
    int count = split_fields(text, fields, FIELD_COUNT);

    if (count != FIELD_COUNT) {
        snprintf(err, errlen,
                 "invalid cron expression \"%.80s\": expected 5 fields "
                 "(minute hour day-of-month month day-of-week), found %d; "
                 "for example \"0 * * * *\" runs hourly",
                 text, count);
        return -1;
    }

    for (int i = 0; i < FIELD_COUNT; i++) {
        context.spec = &field_specs[i];
        if (parse_field(&context, fields[i], &masks[i]) != 0)
            return -1;
    }
    store_masks(masks, fields, out);
    return 0;
}

/* ---- next matching instant ------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

static int64_t ceil_minute(int64_t seconds)
{
    return floor_div(seconds + 59, 60) * 60;
}

static int day_matches(const struct cron_expr *expr,
                       const struct zone_civil_date *date)
{
    int by_month_day = (expr->days_of_month >> date->day) & 1;
    int by_weekday = (expr->days_of_week >> date->weekday) & 1;

    if (expr->day_of_month_restricted && expr->day_of_week_restricted)
        return by_month_day || by_weekday;
    return by_month_day && by_weekday;
}

/* The first matching time of day at or after second_of_day. */
static int time_of_day(const struct cron_expr *expr, int64_t second_of_day,
                       int64_t *found)
{
    int first_hour = (int)(second_of_day / 3600);
    int first_minute = (int)(second_of_day % 3600 / 60);

    for (int hour = first_hour; hour < 24; hour++) {
        if (!((expr->hours >> hour) & 1))
            continue;
        for (int minute = hour == first_hour ? first_minute : 0; minute < 60;
             minute++) {
            if ((expr->minutes >> minute) & 1) {
                *found = hour * 3600 + minute * 60;
                return 0;
            }
        }
    }
    return -1;
}

/*
 * The first matching wall-clock minute in [from, to), with from on a
 * minute boundary. Wall-clock times are counted as if they were UTC.
 */
static int find_wall(const struct cron_expr *expr, int64_t from, int64_t to,
                     int64_t *wall)
{
    int64_t day = floor_div(from, SECONDS_PER_DAY);
    int64_t second_of_day = from - day * SECONDS_PER_DAY;
    struct zone_civil_date date;
    int64_t found;

    while (day * SECONDS_PER_DAY < to) {
        zone_civil_from_days(day, &date);
        if (!((expr->months >> date.month) & 1)) {
            int next_month = date.month == 12 ? 1 : date.month + 1;
            int64_t year = date.month == 12 ? date.year + 1 : date.year;

            day = zone_days_from_civil(year, next_month, 1);
            second_of_day = 0;
            continue;
        }
        if (day_matches(expr, &date) &&
            time_of_day(expr, second_of_day, &found) == 0) {
            *wall = day * SECONDS_PER_DAY + found;
            return *wall < to ? 0 : -1;
        }
        day++;
        second_of_day = 0;
    }
    return -1;
}

/* Returns 1 when wall-clock time `wall`, reached at instant t, already
 * occurred earlier and so must not fire again. */
static int is_repeat(const struct cron_expr *expr, const struct zone *zone,
                     int64_t wall, int64_t t)
{
    int64_t first;
    enum zone_resolution how;

    if (expr->hours == ALL_HOURS)
        return 0;
    if (zone_resolve_local(zone, wall, &first, &how) != 0)
        return 0;
    return how == ZONE_OVERLAP && first < t;
}

/* Searches the instants [from, end), all at one UTC offset. */
static int search_segment(const struct cron_expr *expr, const struct zone *zone,
                          int64_t from, int64_t end, int32_t offset,
                          int64_t *next)
{
    int64_t wall = ceil_minute(from + offset);
    int64_t found;

    while (find_wall(expr, wall, end + offset, &found) == 0) {
        if (!is_repeat(expr, zone, found, found - offset)) {
            *next = found - offset;
            return 0;
        }
        wall = found + 60;
    }
    return -1;
}

int cron_next(const struct cron_expr *expr, const struct zone *zone,
              int64_t after, int64_t *next)
{
    int64_t span = (int64_t)CRON_SEARCH_YEARS * 366 * SECONDS_PER_DAY;
    int64_t limit;
    int64_t from;

    if (after < -ZONE_SECONDS_LIMIT || after > ZONE_SECONDS_LIMIT - span)
        return -1;
    limit = after + span;
    from = after + 1;

    /* Walk the offset segments: wall time rises steadily within each. */
    for (int segment = 0; segment < 10000 && from < limit; segment++) {
        int32_t offset;
        int32_t next_offset;
        int64_t transition;
        int64_t skipped;

        zone_offset_at(zone, from, &offset);
        zone_next_transition(zone, from, &transition);
        if (search_segment(expr, zone, from,
                           transition < limit ? transition : limit, offset,
                           next) == 0)
            return 0;
        if (transition >= limit)
            return -1;

        /* Wall times skipped by a forward jump fire when the jump happens. */
        zone_offset_at(zone, transition, &next_offset);
        if (next_offset > offset &&
            find_wall(expr, ceil_minute(transition + offset),
                      transition + next_offset, &skipped) == 0) {
            *next = transition;
            return 0;
        }
        from = transition;
    }
    return -1;
}
