/*
 * Time zones from TZif files (RFC 8536).
 *
 * This reader is hand-written because glibc exposes local time only
 * through the process-wide TZ variable (tzset, localtime_r), which cannot
 * serve several zones at once in one daemon, and no maintained C library
 * among our dependencies reads TZif. Reading the files ourselves keeps the
 * system tzdata as the source, so distribution tzdata updates apply
 * without a rebuild.
 *
 * Supported: version 1 files (32-bit data block) and versions 2 to 4
 * (64-bit data block plus the POSIX TZ footer, including the version 3
 * extensions: rule times from -167 to 167 hours and all-year DST).
 * Debian may install "slim" files whose table stops at the last rule
 * change, so the footer decides every later instant.
 * Files with leap-second records ("right/" zones) are rejected because
 * their timestamps do not count POSIX seconds.
 */
#include "core/zone.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

#define SECONDS_PER_DAY 86400
#define DEFAULT_TZDIR "/usr/share/zoneinfo"
#define NAME_EXAMPLE "use an IANA name such as \"Europe/Berlin\""

/* The largest file of Debian's tzdata 2025b is 3,940 bytes, so a file
 * near this size is not TZif. */
#define MAX_FILE_SIZE (1024 * 1024)
#define MAX_COUNT 100000

/* RFC 8536 says offsets SHOULD lie within -89999..93599 seconds. */
#define MAX_OFFSET 93600

/* Any instant whose local time is L lies within L +- this many seconds. */
#define RESOLVE_WINDOW (2 * SECONDS_PER_DAY)

enum rule_kind {
    RULE_JULIAN,     /* Jn: day 1-365, February 29 never counted */
    RULE_ZERO_BASED, /* n: day 0-365, February 29 counted */
    RULE_MONTH_WEEK, /* Mm.w.d: weekday d of week w (5 = last) of month m */
};

/* One DST start or end rule of a POSIX TZ string. */
struct rule_date {
    enum rule_kind kind;
    int day; /* day number, or the weekday 0-6 for RULE_MONTH_WEEK */
    int week;
    int month;
    int32_t time; /* seconds after local midnight; may be negative */
};

/* The POSIX TZ footer, for instants after the last table transition. */
struct footer {
    int present;
    int has_dst;
    int32_t std_offset; /* east positive, unlike the POSIX text */
    int32_t dst_offset;
    struct rule_date start;
    struct rule_date end;
};

struct zone_type {
    int32_t utc_offset;
};

struct zone {
    char *name;
    size_t transition_count;
    int64_t *transitions;
    uint8_t *transition_types;
    size_t type_count;
    struct zone_type *types;
    struct footer footer;
};

/* A bounds-checked reader over the bytes of one file. */
struct cursor {
    const uint8_t *data;
    size_t size;
    size_t pos;
};

struct tzif_header {
    char version;
    uint32_t isut_count;
    uint32_t isstd_count;
    uint32_t leap_count;
    uint32_t time_count;
    uint32_t type_count;
    uint32_t char_count;
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int zone_is_leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int zone_days_in_month(int64_t year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && zone_is_leap_year(year))
        return 29;
    return days[month - 1];
}

/* The civil-date algorithms follow Howard Hinnant's "chrono-Compatible
 * Low-Level Date Algorithms" (howardhinnant.github.io/date_algorithms.html):
 * eras of 400 years starting on March 1. */
int64_t zone_days_from_civil(int64_t year, int month, int day)
{
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = floor_div(y, 400);
    int64_t year_of_era = y - era * 400;
    int64_t shifted_month = month > 2 ? month - 3 : month + 9;
    int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    int64_t day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

    return era * 146097 + day_of_era - 719468;
}

void zone_civil_from_days(int64_t days, struct zone_civil_date *date)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t day_of_era = z - era * 146097;
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 -
                           day_of_era / 146096) /
                          365;
    int64_t day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t shifted_month = (5 * day_of_year + 2) / 153;

    date->day = (int)(day_of_year - (153 * shifted_month + 2) / 5 + 1);
    date->month =
        (int)(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
    date->year = year_of_era + era * 400 + (date->month <= 2);

    /* 1970-01-01 was a Thursday. */
    date->weekday = (int)(floor_div(days, 7) * -7 + days + 4) % 7;
}

/* ---- POSIX TZ footer ------------------------------------------------ */

static int parse_digits(const char **p, int max_digits, int *value)
{
    int count = 0;

    *value = 0;
    while (count < max_digits && **p >= '0' && **p <= '9') {
        *value = *value * 10 + (**p - '0');
        (*p)++;
        count++;
    }
    return count > 0 ? 0 : -1;
}

/* A zone abbreviation: 3 or more letters, or <...> with +, - and digits. */
static int parse_tz_name(const char **p)
{
    const char *start = *p;

    if (**p == '<') {
        (*p)++;
        start = *p;
        while (**p == '+' || **p == '-' || (**p >= '0' && **p <= '9') ||
               (**p >= 'A' && **p <= 'Z') || (**p >= 'a' && **p <= 'z'))
            (*p)++;
        if (**p != '>' || *p - start < 3)
            return -1;
        (*p)++;
        return 0;
    }
    while ((**p >= 'A' && **p <= 'Z') || (**p >= 'a' && **p <= 'z'))
        (*p)++;
    return *p - start >= 3 ? 0 : -1;
}

/* [+-]hh[:mm[:ss]] with hh <= max_hours, as seconds. */
static int parse_tz_hms(const char **p, int max_hours, int32_t *seconds)
{
    int sign = 1;
    int hours;
    int minutes = 0;
    int secs = 0;

    if (**p == '+' || **p == '-') {
        sign = **p == '-' ? -1 : 1;
        (*p)++;
    }
    if (parse_digits(p, 3, &hours) != 0 || hours > max_hours)
        return -1;
    if (**p == ':') {
        (*p)++;
        if (parse_digits(p, 2, &minutes) != 0 || minutes > 59)
            return -1;
        if (**p == ':') {
            (*p)++;
            if (parse_digits(p, 2, &secs) != 0 || secs > 59)
                return -1;
        }
    }
    *seconds = sign * (hours * 3600 + minutes * 60 + secs);
    return 0;
}

static int parse_month_week(const char **p, struct rule_date *date)
{
    date->kind = RULE_MONTH_WEEK;
    if (parse_digits(p, 2, &date->month) != 0 || date->month < 1 ||
        date->month > 12 || **p != '.')
        return -1;
    (*p)++;
    if (parse_digits(p, 1, &date->week) != 0 || date->week < 1 ||
        date->week > 5 || **p != '.')
        return -1;
    (*p)++;
    if (parse_digits(p, 1, &date->day) != 0 || date->day > 6)
        return -1;
    return 0;
}

/* Jn, n or Mm.w.d, then an optional /time (default 02:00:00). */
static int parse_rule_date(const char **p, struct rule_date *date)
{
    int status;

    if (**p == 'M') {
        (*p)++;
        status = parse_month_week(p, date);
    } else if (**p == 'J') {
        (*p)++;
        date->kind = RULE_JULIAN;
        status = parse_digits(p, 3, &date->day);
        if (date->day < 1 || date->day > 365)
            status = -1;
    } else {
        date->kind = RULE_ZERO_BASED;
        status = parse_digits(p, 3, &date->day);
        if (date->day > 365)
            status = -1;
    }
    if (status != 0)
        return -1;

    date->time = 2 * 3600;
    if (**p == '/') {
        (*p)++;
        /* Version 3 allows -167..167 hours so rules can cross days. */
        return parse_tz_hms(p, 167, &date->time);
    }
    return 0;
}

static int parse_dst_rules(const char **p, struct footer *footer)
{
    /* For a DST name without rules, tzcode's localtime.c applies the US
     * rules (its TZDEFRULESTRING), and so does this reader. */
    if (**p == '\0') {
        const char *us_rules = "M3.2.0,M11.1.0";

        parse_rule_date(&us_rules, &footer->start);
        us_rules++;
        return parse_rule_date(&us_rules, &footer->end);
    }
    if (**p != ',')
        return -1;
    (*p)++;
    if (parse_rule_date(p, &footer->start) != 0 || **p != ',')
        return -1;
    (*p)++;
    return parse_rule_date(p, &footer->end);
}

/* Parses a TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". */
static int footer_parse(const char *text, struct footer *footer)
{
    const char *p = text;
    int32_t west;

    memset(footer, 0, sizeof *footer);
    if (*p == '\0')
        return 0;

    if (parse_tz_name(&p) != 0 || parse_tz_hms(&p, 24, &west) != 0)
        return -1;
    footer->present = 1;
    footer->std_offset = -west;
    footer->dst_offset = footer->std_offset;
    if (*p == '\0')
        return 0;

    if (parse_tz_name(&p) != 0)
        return -1;
    footer->has_dst = 1;
    footer->dst_offset = footer->std_offset + 3600;
    if (*p != ',' && *p != '\0') {
        if (parse_tz_hms(&p, 24, &west) != 0)
            return -1;
        footer->dst_offset = -west;
    }
    if (parse_dst_rules(&p, footer) != 0)
        return -1;
    return *p == '\0' ? 0 : -1;
}

/* Days since 1970-01-01 of the day a rule names in `year`. */
static int64_t rule_day(int64_t year, const struct rule_date *date)
{
    int64_t jan1 = zone_days_from_civil(year, 1, 1);
    int64_t first;
    int64_t day;
    struct zone_civil_date civil;

    if (date->kind == RULE_ZERO_BASED)
        return jan1 + date->day;
    if (date->kind == RULE_JULIAN) {
        day = jan1 + date->day - 1;
        return zone_is_leap_year(year) && date->day >= 60 ? day + 1 : day;
    }

    first = zone_days_from_civil(year, date->month, 1);
    zone_civil_from_days(first, &civil);
    day = first + (date->day - civil.weekday + 7) % 7 + 7 * (date->week - 1);
    while (day >= first + zone_days_in_month(year, date->month))
        day -= 7;
    return day;
}

/* The instants at which DST starts and ends in `year`. */
static void footer_year(const struct footer *footer, int64_t year,
                        int64_t *start, int64_t *end)
{
    /* A start time is given in standard time, an end time in DST. */
    *start = rule_day(year, &footer->start) * SECONDS_PER_DAY +
             footer->start.time - footer->std_offset;
    *end = rule_day(year, &footer->end) * SECONDS_PER_DAY + footer->end.time -
           footer->dst_offset;
}

/*
 * The year whose rules decide the offset at t: years begin on January 1,
 * 00:00 standard time. NOTE: glibc 2.36 begins them at 00:00 UTC, so for
 * a footer whose start and end swap order between years (see
 * footer_year_end_change) the two disagree for the hours in between.
 */
static int64_t footer_year_of(const struct footer *footer, int64_t t)
{
    struct zone_civil_date date;

    zone_civil_from_days(floor_div(t + footer->std_offset, SECONDS_PER_DAY),
                         &date);
    return date.year;
}

static int32_t footer_offset_at(const struct footer *footer, int64_t t)
{
    int64_t start;
    int64_t end;
    int in_dst;

    if (!footer->has_dst)
        return footer->std_offset;

    footer_year(footer, footer_year_of(footer, t), &start, &end);
    if (start < end)
        in_dst = start <= t && t < end;
    else
        in_dst = t < end || t >= start;
    return in_dst ? footer->dst_offset : footer->std_offset;
}

/*
 * Returns the instant at which `year` ends (January 1 of the next year,
 * 00:00 standard time) when the offset changes there, else INT64_MAX.
 * Each year's rules apply only within that year. When DST start and end
 * swap order from one year to the next, as a rule pair in one month such
 * as M2.5.0 and M2.5.1 can, the offset changes at the new year, an
 * instant that neither rule names.
 */
static int64_t footer_year_end_change(const struct footer *footer, int64_t year)
{
    int64_t boundary = zone_days_from_civil(year + 1, 1, 1) * SECONDS_PER_DAY -
                       footer->std_offset;

    if (footer_offset_at(footer, boundary - 1) ==
        footer_offset_at(footer, boundary))
        return INT64_MAX;
    return boundary;
}

static int64_t footer_next_transition(const struct footer *footer, int64_t t)
{
    int64_t year;
    int64_t best = INT64_MAX;
    int64_t start;
    int64_t end;

    if (!footer->has_dst)
        return INT64_MAX;

    /* Rules of the neighbouring years can fall near a year boundary. */
    year = footer_year_of(footer, t);
    for (int64_t y = year - 1; y <= year + 1; y++) {
        footer_year(footer, y, &start, &end);
        if (start > t && start < best)
            best = start;
        if (end > t && end < best)
            best = end;
    }

    /* t falls within `year`, so both year ends lie after t. */
    for (int64_t y = year; y <= year + 1; y++) {
        int64_t change = footer_year_end_change(footer, y);

        if (change < best)
            best = change;
    }
    return best;
}

/* ---- TZif file ------------------------------------------------------ */

static int cursor_take(struct cursor *cursor, size_t length,
                       const uint8_t **bytes)
{
    if (cursor->size - cursor->pos < length)
        return -1;
    *bytes = cursor->data + cursor->pos;
    cursor->pos += length;
    return 0;
}

static uint32_t read_be32(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 |
           (uint32_t)bytes[2] << 8 | (uint32_t)bytes[3];
}

static int64_t read_be64(const uint8_t *bytes)
{
    uint64_t value = (uint64_t)read_be32(bytes) << 32 | read_be32(bytes + 4);

    return (int64_t)value;
}

static int header_parse(struct cursor *cursor, struct tzif_header *header,
                        const char **problem)
{
    const uint8_t *bytes;
    uint32_t counts[6];

    if (cursor_take(cursor, 44, &bytes) != 0 || memcmp(bytes, "TZif", 4) != 0) {
        *problem = "not a TZif file";
        return -1;
    }
    header->version = (char)bytes[4];
    for (int i = 0; i < 6; i++)
        counts[i] = read_be32(bytes + 20 + 4 * i);
    header->isut_count = counts[0];
    header->isstd_count = counts[1];
    header->leap_count = counts[2];
    header->time_count = counts[3];
    header->type_count = counts[4];
    header->char_count = counts[5];

    if (header->version != 0 &&
        (header->version < '2' || header->version > '4')) {
        *problem = "unsupported TZif version";
        return -1;
    }
    for (int i = 0; i < 6; i++) {
        if (counts[i] > MAX_COUNT) {
            *problem = "implausible record count";
            return -1;
        }
    }
    if (header->type_count == 0 || header->char_count == 0 ||
        (header->isut_count != 0 && header->isut_count != header->type_count) ||
        (header->isstd_count != 0 &&
         header->isstd_count != header->type_count)) {
        *problem = "inconsistent header counts";
        return -1;
    }
    return 0;
}

static size_t block_size(const struct tzif_header *header, size_t time_size)
{
    return header->time_count * time_size + header->time_count +
           header->type_count * 6u + header->char_count +
           header->leap_count * (time_size + 4) + header->isstd_count +
           header->isut_count;
}

static int types_parse(struct zone *zone, const uint8_t *bytes,
                       const struct tzif_header *header, const char **problem)
{
    for (size_t i = 0; i < header->type_count; i++) {
        const uint8_t *record = bytes + 6 * i;
        int32_t offset = (int32_t)read_be32(record);

        if (offset <= -MAX_OFFSET || offset >= MAX_OFFSET || record[4] > 1 ||
            record[5] >= header->char_count) {
            *problem = "invalid local time type";
            return -1;
        }
        zone->types[i].utc_offset = offset;
    }
    return 0;
}

static int transitions_parse(struct zone *zone, const uint8_t *bytes,
                             const struct tzif_header *header, size_t time_size,
                             const char **problem)
{
    const uint8_t *indexes = bytes + header->time_count * time_size;

    for (size_t i = 0; i < header->time_count; i++) {
        const uint8_t *at = bytes + i * time_size;
        int64_t time = time_size == 8 ? read_be64(at) : (int32_t)read_be32(at);

        if (i > 0 && time <= zone->transitions[i - 1]) {
            *problem = "transition times out of order";
            return -1;
        }
        if (indexes[i] >= header->type_count) {
            *problem = "transition names a missing local time type";
            return -1;
        }
        zone->transitions[i] = time;
        zone->transition_types[i] = indexes[i];
    }
    return 0;
}

/* Reads one data block (v1 with 4-byte times, v2+ with 8-byte times). */
static int block_parse(struct zone *zone, struct cursor *cursor,
                       const struct tzif_header *header, size_t time_size,
                       const char **problem)
{
    const uint8_t *bytes;
    size_t count = header->time_count;

    if (header->leap_count != 0) {
        *problem = "leap-second records (\"right/\" zones) are not "
                   "supported";
        return -1;
    }
    if (cursor_take(cursor, block_size(header, time_size), &bytes) != 0) {
        *problem = "truncated data block";
        return -1;
    }

    zone->transitions = calloc(count ? count : 1, sizeof(int64_t));
    zone->transition_types = calloc(count ? count : 1, 1);
    zone->types = calloc(header->type_count, sizeof(struct zone_type));
    if (!zone->transitions || !zone->transition_types || !zone->types) {
        *problem = "out of memory";
        return -1;
    }
    zone->transition_count = count;
    zone->type_count = header->type_count;

    if (transitions_parse(zone, bytes, header, time_size, problem) != 0)
        return -1;
    return types_parse(zone, bytes + count * (time_size + 1), header, problem);
}

/* The footer is "\n" TZ-string "\n" after the v2+ data block. */
static int footer_read(struct zone *zone, struct cursor *cursor,
                       const char **problem)
{
    const uint8_t *bytes;
    const uint8_t *end;
    char text[256];
    size_t length;

    if (cursor_take(cursor, 1, &bytes) != 0 || bytes[0] != '\n') {
        *problem = "missing TZ string footer";
        return -1;
    }
    end = memchr(cursor->data + cursor->pos, '\n', cursor->size - cursor->pos);
    length = end ? (size_t)(end - (cursor->data + cursor->pos)) : 0;
    if (!end || length >= sizeof text) {
        *problem = "unterminated TZ string footer";
        return -1;
    }
    memcpy(text, cursor->data + cursor->pos, length);
    text[length] = '\0';

    if (footer_parse(text, &zone->footer) != 0) {
        *problem = "invalid TZ string footer";
        return -1;
    }
    return 0;
}

static int tzif_parse(struct zone *zone, const uint8_t *data, size_t size,
                      const char **problem)
{
    struct cursor cursor = {data, size, 0};
    struct tzif_header header;
    const uint8_t *skipped;

    if (header_parse(&cursor, &header, problem) != 0)
        return -1;
    if (header.version == 0)
        return block_parse(zone, &cursor, &header, 4, problem);

    /* Version 2+ readers skip the 32-bit block and use the 64-bit one. */
    if (cursor_take(&cursor, block_size(&header, 4), &skipped) != 0) {
        *problem = "truncated version 1 data block";
        return -1;
    }
    if (header_parse(&cursor, &header, problem) != 0)
        return -1;
    if (block_parse(zone, &cursor, &header, 8, problem) != 0)
        return -1;
    return footer_read(zone, &cursor, problem);
}

/* ---- loading -------------------------------------------------------- */

static int name_check(const char *name, char *err, size_t errlen)
{
    const char *problem = NULL;

    if (name[0] == '\0')
        problem = "the name is empty";
    else if (name[0] == '/')
        problem = "absolute paths are not allowed";
    else if (strstr(name, ".."))
        problem = "\"..\" is not allowed";
    else if (strlen(name) > 255)
        problem = "the name is longer than 255 characters";
    else if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
                          "xyz0123456789_+-/") != strlen(name))
        problem = "only letters, digits, '_', '+', '-' and '/' are allowed";

    if (!problem)
        return 0;
    snprintf(err, errlen, "invalid time zone name \"%.64s\": %s; %s", name,
             problem, NAME_EXAMPLE);
    return -1;
}

static int file_open(const char *path, const char *name, char *err,
                     size_t errlen)
{
    struct stat info;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            snprintf(err, errlen, "unknown time zone \"%s\": no file %s; %s",
                     name, path, NAME_EXAMPLE);
        else
            snprintf(err, errlen, "cannot open time zone file %s: %s", path,
                     strerror(errno));
        return -1;
    }
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) ||
        info.st_size > MAX_FILE_SIZE) {
        snprintf(err, errlen,
                 "unknown time zone \"%s\": %s is not a TZif file; %s", name,
                 path, NAME_EXAMPLE);
        close(fd);
        return -1;
    }
    return fd;
}

static uint8_t *file_read(const char *path, const char *name, size_t *size,
                          char *err, size_t errlen)
{
    uint8_t *data;
    ssize_t got = 0;
    int fd = file_open(path, name, err, errlen);

    if (fd < 0)
        return NULL;

    /* One extra byte shows whether the file grew past the limit. */
    data = malloc(MAX_FILE_SIZE + 1);
    *size = 0;
    while (data && *size <= MAX_FILE_SIZE) {
        got = read(fd, data + *size, MAX_FILE_SIZE + 1 - *size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        *size += (size_t)got;
    }
    close(fd);

    if (!data || got < 0) {
        snprintf(err, errlen, "cannot read time zone file %s: %s", path,
                 data ? strerror(errno) : "out of memory");
        free(data);
        return NULL;
    }
    if (*size > MAX_FILE_SIZE) {
        snprintf(err, errlen,
                 "invalid time zone file %s: larger than %d "
                 "bytes; reinstall the tzdata package",
                 path, MAX_FILE_SIZE);
        free(data);
        return NULL;
    }
    return data;
}

static int zone_read_file(struct zone *zone, const char *name, char *err,
                          size_t errlen)
{
    const char *dir = getenv("TZDIR");
    const char *problem = NULL;
    char path[4096];
    uint8_t *data;
    size_t size;
    int status;

    if (!dir || dir[0] == '\0')
        dir = DEFAULT_TZDIR;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
        sizeof path) {
        snprintf(err, errlen, "time zone path for \"%s\" is too long", name);
        return -1;
    }

    data = file_read(path, name, &size, err, errlen);
    if (!data)
        return -1;
    status = tzif_parse(zone, data, size, &problem);
    free(data);
    if (status != 0)
        snprintf(err, errlen,
                 "invalid time zone file %s: %s; reinstall the tzdata "
                 "package",
                 path, problem);
    return status;
}

/* UTC needs no file, so it works even where tzdata is not installed. */
static int zone_make_utc(struct zone *zone)
{
    zone->types = calloc(1, sizeof(struct zone_type));
    if (!zone->types)
        return -1;
    zone->type_count = 1;
    return 0;
}

/* An empty zone that owns a copy of name, or NULL with a message. */
static struct zone *zone_new(const char *name, char *err, size_t errlen)
{
    struct zone *zone = calloc(1, sizeof *zone);

    if (!zone || !(zone->name = strdup(name))) {
        snprintf(err, errlen, "cannot load time zone \"%s\": out of memory",
                 name);
        free(zone);
        return NULL;
    }
    return zone;
}

struct zone *zone_parse_tzif(const unsigned char *data, size_t len,
                             const char *name, char *err, size_t errlen)
{
    struct zone *zone = zone_new(name, err, errlen);
    const char *problem = NULL;

    if (!zone)
        return NULL;
    if (tzif_parse(zone, data, len, &problem) != 0) {
        snprintf(err, errlen, "invalid TZif data for time zone \"%s\": %s",
                 name, problem);
        zone_free(zone);
        return NULL;
    }
    return zone;
}

struct zone *zone_load(const char *name, char *err, size_t errlen)
{
    struct zone *zone;
    int status;

    if (name_check(name, err, errlen) != 0)
        return NULL;

    zone = zone_new(name, err, errlen);
    if (!zone)
        return NULL;

    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        status = zone_make_utc(zone);
        if (status != 0)
            snprintf(err, errlen, "cannot load time zone \"%s\": out of memory",
                     name);
    } else {
        status = zone_read_file(zone, name, err, errlen);
    }
    if (status != 0) {
        zone_free(zone);
        return NULL;
    }
    return zone;
}

void zone_free(struct zone *zone)
{
    if (!zone)
        return;
    free(zone->name);
    free(zone->transitions);
    free(zone->transition_types);
    free(zone->types);
    free(zone);
}

const char *zone_name(const struct zone *zone)
{
    return zone->name;
}

/* ---- lookups -------------------------------------------------------- */

static int in_range(int64_t seconds)
{
    return seconds >= -ZONE_SECONDS_LIMIT && seconds <= ZONE_SECONDS_LIMIT;
}

/* Returns the index of the last transition at or before t. The caller
 * ensures that t >= transitions[0]. */
static size_t transition_index(const struct zone *zone, int64_t t)
{
    size_t low = 0;
    size_t high = zone->transition_count;

    while (high - low > 1) {
        size_t middle = low + (high - low) / 2;

        if (zone->transitions[middle] <= t)
            low = middle;
        else
            high = middle;
    }
    return low;
}

static int32_t offset_at(const struct zone *zone, int64_t t)
{
    size_t count = zone->transition_count;

    if (count == 0)
        return zone->footer.present ? footer_offset_at(&zone->footer, t)
                                    : zone->types[0].utc_offset;

    /* RFC 8536: type 0 applies before the first transition. */
    if (t < zone->transitions[0])
        return zone->types[0].utc_offset;
    if (t >= zone->transitions[count - 1] && zone->footer.present)
        return footer_offset_at(&zone->footer, t);
    return zone->types[zone->transition_types[transition_index(zone, t)]]
        .utc_offset;
}

static int64_t next_transition(const struct zone *zone, int64_t after)
{
    size_t count = zone->transition_count;

    if (count > 0 && after < zone->transitions[0])
        return zone->transitions[0];
    if (count > 0 && after < zone->transitions[count - 1])
        return zone->transitions[transition_index(zone, after) + 1];
    if (zone->footer.present)
        return footer_next_transition(&zone->footer, after);
    return INT64_MAX;
}

int zone_offset_at(const struct zone *zone, int64_t epoch_seconds,
                   int32_t *utc_offset_seconds)
{
    if (!in_range(epoch_seconds))
        return -1;
    *utc_offset_seconds = offset_at(zone, epoch_seconds);
    return 0;
}

int zone_next_transition(const struct zone *zone, int64_t after,
                         int64_t *transition)
{
    if (!in_range(after))
        return -1;
    *transition = next_transition(zone, after);
    return 0;
}

/* Candidate instants for local time L, one offset segment at a time. */
struct resolve_state {
    int64_t local;
    int candidates;
    int64_t earliest;
    int in_gap;
    int32_t offset_before_gap;
};

static void resolve_segment(struct resolve_state *state, int64_t begin,
                            int64_t end, int32_t offset, int32_t next_offset)
{
    int64_t t = state->local - offset;

    if (t >= begin && t < end) {
        if (state->candidates == 0 || t < state->earliest)
            state->earliest = t;
        state->candidates++;
    }

    /* At a forward jump, local times [end+offset, end+next) are skipped. */
    if (next_offset > offset && state->local >= end + offset &&
        state->local < end + next_offset) {
        state->in_gap = 1;
        state->offset_before_gap = offset;
    }
}

int zone_resolve_local(const struct zone *zone, int64_t local_seconds,
                       int64_t *epoch_seconds, enum zone_resolution *how)
{
    struct resolve_state state = {local_seconds, 0, 0, 0, 0};
    int64_t begin = local_seconds - RESOLVE_WINDOW;
    int64_t window_end = local_seconds + RESOLVE_WINDOW;
    int32_t offset;
    enum zone_resolution result;

    if (!in_range(local_seconds))
        return -1;

    /* Offsets stay within +-26 h, so a 4-day window contains every match.
     * Real zones change offset at most a few times in it. */
    offset = offset_at(zone, begin);
    for (int step = 0; step < 64 && begin < window_end; step++) {
        int64_t end = next_transition(zone, begin);
        int32_t next_offset;

        if (end > window_end)
            end = window_end;
        next_offset = offset_at(zone, end);
        resolve_segment(&state, begin, end, offset, next_offset);
        begin = end;
        offset = next_offset;
    }

    if (state.candidates > 0) {
        *epoch_seconds = state.earliest;
        result = state.candidates == 1 ? ZONE_EXACT : ZONE_OVERLAP;
    } else if (state.in_gap) {
        *epoch_seconds = local_seconds - state.offset_before_gap;
        result = ZONE_GAP;
    } else {
        return -1;
    }
    if (how)
        *how = result;
    return 0;
}
