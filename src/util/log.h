/*
 * Leveled logging: one line per event on stderr, in the form
 *
 *   2026-12-04T16:39:12.345Z INFO  engine: claimed 12 entries node=a1
 *
 * Callers pass ids as key=value pairs in the message. Secrets must never
 * be passed in; nothing here can tell a secret from other text.
 */
#ifndef PUBQ_LOG_H
#define PUBQ_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

/* Sets the lowest level written; the default is LOG_INFO. */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn", "error" or "off"; returns -1 otherwise. */
int log_level_parse(const char *name, enum log_level *level);

int log_enabled(enum log_level level);

void log_write(enum log_level level, const char *module, const char *fmt,
               ...) __attribute__((format(printf, 3, 4)));

/* The macros skip formatting when the level is filtered out. */
#define log_at(level, module, ...)                                            \
    do {                                                                      \
        if (log_enabled(level))                                               \
            log_write(level, module, __VA_ARGS__);                            \
    } while (0)
#define log_debug(module, ...) log_at(LOG_DEBUG, module, __VA_ARGS__)
#define log_info(module, ...) log_at(LOG_INFO, module, __VA_ARGS__)
#define log_warn(module, ...) log_at(LOG_WARN, module, __VA_ARGS__)
#define log_error(module, ...) log_at(LOG_ERROR, module, __VA_ARGS__)

#endif
