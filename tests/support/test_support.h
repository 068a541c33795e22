/* Helpers shared by the test programs. */
#ifndef PUBQ_TEST_SUPPORT_H
#define PUBQ_TEST_SUPPORT_H

#include <stddef.h>

/*
 * Creates a fresh directory under $TMPDIR (or /tmp) and returns its path.
 * Each call makes a new one; the string lives until the process exits.
 */
const char *test_tmpdir(void);

/* Joins dir and name into a path that lives until the process exits. */
const char *test_path(const char *dir, const char *name);

/* Writes text to path, replacing the file. Aborts the test on failure. */
void test_write_file(const char *path, const char *text);

/*
 * Returns the whole file at path as a NUL-terminated string the caller
 * frees. Aborts the test when it cannot be read.
 */
char *test_read_file(const char *path);

#endif
