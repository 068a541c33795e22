#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "util/banned.h"

static enum log_level min_level = LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

int log_level_parse(const char *name, enum log_level *level)
{
    static const char *const names[] = {"debug", "info", "warn", "error",
                                        "off"};

    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

int log_enabled(enum log_level level)
{
    return level >= min_level && level < LOG_OFF;
}

void log_write(enum log_level level, const char *module, const char *fmt,
               ...)
{
    struct timespec now;
    struct tm utc;
    char stamp[32];
    char line[2048];
    va_list args;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);

    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);

    /* One fprintf per line keeps lines whole when threads log at once. */
    fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", stamp,
            now.tv_nsec / 1000000, level_names[level], module, line);
}
