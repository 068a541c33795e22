#include "config/config_parse.h"

#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_value.h"
#include "util/banned.h"

static const char *const section_names[CONFIG_SECTION_COUNT] = {
    [SECTION_SERVER] = "server",   [SECTION_DATABASE] = "database",
    [SECTION_RETRY] = "retry",     [SECTION_ENGINE] = "engine",
    [SECTION_SWEEPER] = "sweeper", [SECTION_TIME] = "time",
    [SECTION_LOG] = "log",         [SECTION_PLATFORM] = "platform",
};

const char *config_section_name(enum config_section section)
{
    return section_names[section];
}

/* libinih cuts key names to 49 bytes (its MAX_NAME of 50 with the NUL). */
#define CONFIG_KEY_MAX_LENGTH 49

#define SECTION_LIST                                                           \
    "[server], [database], [retry], [engine], [sweeper], [time], [log] "       \
    "and [platform NAME]"

int config_parser_fail(struct config_parser *parser, int line, const char *key,
                       const char *value, const char *fmt, ...)
{
    char problem[CONFIG_ERR_MAX];
    char where[CONFIG_ERR_MAX];
    char file[CONFIG_ERR_MAX];
    char message[4 * CONFIG_ERR_MAX]; /* room for every part above */
    va_list args;

    if (parser->failed)
        return -1;
    parser->failed = 1;

    va_start(args, fmt);
    vsnprintf(problem, sizeof problem, fmt, args);
    va_end(args);

    if (key == NULL)
        snprintf(where, sizeof where, "[%s]", parser->section_label);
    else if (parser->section == SECTION_NONE)
        snprintf(where, sizeof where, "%s", key);
    else
        snprintf(where, sizeof where, "[%s] %s", parser->section_label, key);

    if (line > 0)
        snprintf(file, sizeof file, "%s:%d", parser->path, line);
    else
        snprintf(file, sizeof file, "%s", parser->path);

    if (value != NULL)
        snprintf(message, sizeof message, "%s: %s = \"%s\": %s", file, where,
                 value, problem);
    else if (parser->section == SECTION_NONE && key == NULL)
        snprintf(message, sizeof message, "%s: %s", file, problem);
    else
        snprintf(message, sizeof message, "%s: %s: %s", file, where, problem);

    /* Every part may quote the file, which may hold terminal escapes. */
    config_escape_controls(message, parser->err, parser->errlen);
    return -1;
}

static int add_platform(struct config_parser *parser, const char *name)
{
    struct pubq_config *config = parser->config;
    size_t count = config->platform_count;
    struct platform_config *platforms;
    struct platform_key_lines *lines;

    platforms = realloc(config->platforms, (count + 1) * sizeof *platforms);
    if (platforms == NULL)
        return config_parser_fail(parser, parser->line, NULL, NULL,
                                  "out of memory");
    config->platforms = platforms;

    lines = realloc(parser->platform_lines, (count + 1) * sizeof *lines);
    if (lines == NULL)
        return config_parser_fail(parser, parser->line, NULL, NULL,
                                  "out of memory");
    parser->platform_lines = lines;

    memset(&platforms[count], 0, sizeof platforms[count]);
    memset(&lines[count], 0, sizeof lines[count]);
    platforms[count].name = strdup(name);
    if (platforms[count].name == NULL)
        return config_parser_fail(parser, parser->line, NULL, NULL,
                                  "out of memory");

    platforms[count].line = parser->line;
    platforms[count].max_lateness_ms = 24LL * 3600 * 1000;
    platforms[count].on_unknown = ON_UNKNOWN_HOLD;
    platforms[count].concurrency = 1;
    config->platform_count = count + 1;
    parser->platform_index = count;
    return 0;
}

static int begin_platform(struct config_parser *parser, const char *name)
{
    const struct platform_config *other;

    snprintf(parser->section_label, sizeof parser->section_label,
             "platform%s%s", name[0] == '\0' ? "" : " ", name);
    if (name[0] == '\0')
        return config_parser_fail(
            parser, parser->line, NULL, NULL,
            "missing platform name; write the header as [platform NAME]");

    if (!config_is_platform_name(name))
        return config_parser_fail(
            parser, parser->line, NULL, NULL,
            "invalid platform name; use 1 to 63 characters from a-z, 0-9, "
            "_ and -");

    other = config_find_platform(parser->config, name);
    if (other != NULL)
        return config_parser_fail(
            parser, parser->line, NULL, NULL,
            "duplicate platform name, first defined on line %d; give each "
            "platform its own name",
            other->line);

    return add_platform(parser, name);
}

static int begin_fixed_section(struct config_parser *parser, const char *name)
{
    snprintf(parser->section_label, sizeof parser->section_label, "%s", name);
    for (int i = SECTION_SERVER; i < SECTION_PLATFORM; i++) {
        if (strcmp(name, section_names[i]) != 0)
            continue;

        if (parser->section_lines[i] != 0)
            return config_parser_fail(
                parser, parser->line, NULL, NULL,
                "duplicate section, first on line %d; merge the two",
                parser->section_lines[i]);
        parser->section = (enum config_section)i;
        parser->section_lines[i] = parser->line;
        return 0;
    }

    parser->section = SECTION_NONE;
    return config_parser_fail(
        parser, parser->line, NULL, NULL,
        "unknown section [%s]; the sections are " SECTION_LIST, name);
}

static char *trim(char *text)
{
    size_t length;

    while (*text == ' ' || *text == '\t')
        text++;
    length = strlen(text);
    while (length > 0 && (text[length - 1] == ' ' || text[length - 1] == '\t'))
        text[--length] = '\0';
    return text;
}

/*
 * Reads a section header here instead of taking libinih's section
 * argument, because libinih truncates section names to 49 bytes and
 * never reports a section without keys.
 */
static int begin_section(struct config_parser *parser, const char *line)
{
    char header[256];
    char *close;
    char *name;
    const char *rest;

    snprintf(header, sizeof header, "%s", line + 1);
    close = strchr(header, ']');
    rest = close == NULL ? "" : close + 1 + strspn(close + 1, " \t\r\n");
    if (close == NULL || (*rest != '\0' && *rest != ';' && *rest != '#')) {
        parser->section = SECTION_NONE;
        return config_parser_fail(
            parser, parser->line, NULL, NULL,
            "invalid section header; write it as [name] on its own line");
    }
    *close = '\0';
    name = trim(header);

    if (strncmp(name, "platform", 8) == 0 &&
        (name[8] == '\0' || name[8] == ' ' || name[8] == '\t')) {
        parser->section = SECTION_PLATFORM;
        return begin_platform(parser, trim(name + 8));
    }
    return begin_fixed_section(parser, name);
}

static int check_key_line(struct config_parser *parser, const char *line)
{
    size_t key_length = strcspn(line, "=:");

    if (strchr("\r\n;#", line[0]) != NULL)
        return 0;

    /* libinih also splits at ':', which would cut `header_X-A:B = v`
     * into key header_X-A and value "B = v". */
    if (line[key_length] == ':')
        return config_parser_fail(
            parser, parser->line, NULL, NULL,
            "invalid line \"%.*s\": ':' in a key or in place of '='; "
            "write key = value with no ':' in the key",
            (int)strcspn(line, "\r\n"), line);

    if (line[key_length] == '\0')
        return config_parser_fail(
            parser, parser->line, NULL, NULL,
            "invalid line \"%.*s\"; write key = value, a [section] "
            "header or a comment starting with # or ;",
            (int)strcspn(line, "\r\n"), line);

    while (key_length > 0 && strchr(" \t", line[key_length - 1]) != NULL)
        key_length--;
    if (key_length > CONFIG_KEY_MAX_LENGTH)
        return config_parser_fail(parser, parser->line, NULL, NULL,
                                  "key \"%.*s\" longer than %d characters; "
                                  "use a shorter key",
                                  (int)key_length, line, CONFIG_KEY_MAX_LENGTH);
    return 0;
}

/*
 * The line reader given to libinih. It counts lines, so that error
 * messages of the key handler name the right line. It strips leading
 * blanks, so that libinih reads an indented line as a key of its own and
 * not as the continuation of the previous value.
 */
static char *read_line(char *buffer, int size, void *stream)
{
    struct config_parser *parser = stream;
    const char *start = parser->text + parser->offset;
    const char *newline;
    size_t length;

    if (parser->failed || parser->offset >= parser->length)
        return NULL;

    newline = memchr(start, '\n', parser->length - parser->offset);
    length = newline == NULL ? parser->length - parser->offset
                             : (size_t)(newline - start) + 1;
    parser->offset += length;
    parser->line++;

    while (length > 0 && (*start == ' ' || *start == '\t')) {
        start++;
        length--;
    }
    if (length + 1 > (size_t)size) {
        config_parser_fail(parser, parser->line, NULL, NULL,
                           "line longer than %d characters; shorten it",
                           size - 2);
        return NULL;
    }
    memcpy(buffer, start, length);
    buffer[length] = '\0';

    if (buffer[0] == '[')
        begin_section(parser, buffer);
    else
        check_key_line(parser, buffer);
    return parser->failed ? NULL : buffer;
}

static int handle_key(void *user, const char *section, const char *key,
                      const char *value)
{
    struct config_parser *parser = user;

    (void)section;
    if (parser->failed)
        return 0;
    return config_keys_set(parser, key, value) == 0;
}

int config_parse_text(struct config_parser *parser)
{
    int result;

    if (memchr(parser->text, '\0', parser->length) != NULL)
        return config_parser_fail(parser, 0, NULL, NULL,
                                  "file contains a NUL byte; save it as "
                                  "plain text");

    /* Editors on Windows start UTF-8 files with a byte order mark. */
    if (parser->length >= 3 && memcmp(parser->text, "\xEF\xBB\xBF", 3) == 0)
        parser->offset = 3;

    result = ini_parse_stream(read_line, parser, handle_key, parser);
    if (parser->failed)
        return -1;

    if (result != 0)
        return config_parser_fail(parser, result, NULL, NULL,
                                  "syntax error; write key = value, a "
                                  "[section] header or a comment");

    parser->section = SECTION_NONE;
    return config_keys_finish(parser);
}
