/*
 * The state of one configuration parse, shared by the line reader and
 * section handling (config_parse.c) and the key setters (config_keys.c).
 */
#ifndef PUBQ_CONFIG_PARSE_H
#define PUBQ_CONFIG_PARSE_H

#include <stddef.h>

#include "config/config.h"

enum config_section {
    SECTION_NONE, /* before the first section header */
    SECTION_SERVER,
    SECTION_DATABASE,
    SECTION_RETRY,
    SECTION_ENGINE,
    SECTION_SWEEPER,
    SECTION_TIME,
    SECTION_LOG,
    SECTION_PLATFORM,
};

#define CONFIG_SECTION_COUNT (SECTION_PLATFORM + 1)

/* Room for the line numbers of the fixed-section keys. */
#define CONFIG_KEY_SLOTS 32

/* Lines of the known keys of one platform section, 0 while unset. */
struct platform_key_lines {
    int type;
    int max_retries;
    int max_lateness;
    int on_unknown;
    int concurrency;
};

struct config_parser {
    struct pubq_config *config;
    const char *path; /* as the messages name it */

    const char *text; /* the whole file */
    size_t length;
    size_t offset; /* start of the next line */
    int line;      /* number of the line last read, from 1 */

    enum config_section section;
    char section_label[96]; /* "retry" or "platform blog" */
    size_t platform_index;  /* current platform when section is one */
    int section_lines[CONFIG_SECTION_COUNT];
    int key_lines[CONFIG_KEY_SLOTS];
    struct platform_key_lines *platform_lines; /* one per platform */

    int failed;
    char *err;
    size_t errlen;
};

/*
 * Fills parser->err with "FILE:LINE: [SECTION] KEY = "VALUE": PROBLEM"
 * (key and value may be NULL to leave them out), marks the parse failed
 * and returns -1. Only the first failure is kept.
 */
int config_parser_fail(struct config_parser *parser, int line, const char *key,
                       const char *value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Applies `key = value` in the current section. Returns 0 or -1. */
int config_keys_set(struct config_parser *parser, const char *key,
                    const char *value);

/* Returns "server", "retry", ... or "platform"; NULL for NONE. */
const char *config_section_name(enum config_section section);

/*
 * Return the name of the fixed-section key at `index` (setting *section)
 * and of the platform-section key at `index`, or NULL past the last one,
 * so that a test can check the example file lists every key.
 */
const char *config_keys_fixed(size_t index, enum config_section *section);
const char *config_keys_platform(size_t index);

/* Returns the section that has a fixed key of that name, or NONE. */
enum config_section config_keys_section_of(const char *key);

/*
 * Checks what single lines cannot: every platform has a type, the retry
 * delays fit together. Fills the defaults that depend on other sections.
 */
int config_keys_finish(struct config_parser *parser);

/*
 * Parses the configuration text into parser->config, which contains the
 * defaults. Returns 0, or -1 with the message in parser->err.
 */
int config_parse_text(struct config_parser *parser);

#endif
