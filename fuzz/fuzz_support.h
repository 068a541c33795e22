/*
 * Shared pieces of the fuzz targets: the libFuzzer entry points, a fixed
 * configuration and zone, and temporary files for parsers that read a
 * path. The same target sources build two ways: with clang and
 * -fsanitize=fuzzer for fuzzing (fuzz/CMakeLists.txt), and with the
 * replay main of tests/fuzz_replay for ctest (fuzz/replay.cmake).
 */
#ifndef PUBQ_FUZZ_SUPPORT_H
#define PUBQ_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/zone.h"

/* The clock of every target: 2025-12-05T02:00:00Z in ms. */
#define FUZZ_NOW_MS 1764900000000LL

/* Called once before the first input; every target defines it. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Runs one input. Returns 0; a bug aborts through a sanitizer. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints a broken invariant and aborts, so the fuzzer keeps the input. */
void fuzz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Returns a NUL-terminated heap copy of data; the caller frees it. An
 * embedded NUL ends the string early, as it would for a C caller. */
char *fuzz_string(const uint8_t *data, size_t size);

/*
 * Returns the path of `file_name` inside a directory that is created
 * once per process and removed at exit with the files named here. An
 * input that aborts the process leaves the directory behind. The string
 * lives until exit.
 */
const char *fuzz_temp_path(const char *file_name);

/* Replaces the contents of the file at path with data; aborts on error. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t size);

/*
 * Returns the configuration compiled into the targets, loaded once with
 * config_load. Its platforms are named after their types: outbox (file),
 * mastodon, bluesky, discord, telegram, slack, webhook and wordpress,
 * each pointing at an unused loopback port. The secrets they name are set
 * in the environment first, and logging is turned off unless
 * PUBQ_FUZZ_VERBOSE is set.
 */
const struct pubq_config *fuzz_config(void);

/* Returns Europe/Berlin from the system tzdata, loaded once and kept
 * until exit: callers must not free it. */
struct zone *fuzz_berlin(void);

#endif
