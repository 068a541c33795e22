/*
 * Parsers and checks for single configuration values. Each returns 0 for
 * a valid value and -1 otherwise; none of them allocates.
 */
#ifndef PUBQ_CONFIG_VALUE_H
#define PUBQ_CONFIG_VALUE_H

#include <stddef.h>
#include <stdint.h>

/* Parses a decimal integer within [min, max] into *out. */
int config_parse_unsigned(const char *text, uint64_t min, uint64_t max,
                          uint64_t *out);

/*
 * Parses a size in bytes: a decimal integer with an optional unit B, KiB
 * or MiB (K and M are read as KiB and MiB), e.g. "1MiB" or "65536".
 */
int config_parse_bytes(const char *text, uint64_t *out);

/* Parses a decimal fraction within [0, 1], e.g. "0.2". */
int config_parse_fraction(const char *text, double *out);

/* Returns 1 if text is a valid environment variable name, else 0. */
int config_is_env_name(const char *text);

/* Returns 1 if a key ends in "_env", so its value names a variable. */
int config_is_env_key(const char *key);

/*
 * Returns 1 if a key name looks like it names a secret, because such a
 * value belongs in an environment variable. Such keys end in a word like
 * token, password or secret, are `key`, end in a credential's _key such
 * as api_key or signing_key, or are webhook_url. Other keys ending in
 * _key, such as sort_key, return 0. So do keys ending in "_env", which
 * name such a variable.
 */
int config_is_secret_key(const char *key);

/* Checks "HOST:PORT" or "[IPV6]:PORT" with a port from 1 to 65535. */
int config_check_listen(const char *text);

/* Returns 1 for a platform name of 1-63 characters from [a-z0-9_-]. */
int config_is_platform_name(const char *text);

/* Returns 1 for a node id of 1-63 characters from [A-Za-z0-9._-]. */
int config_is_node_id(const char *text);

/*
 * Copies text into buf (len bytes, at least 1), writing each control
 * character as an escape: a C0 byte or DEL as "\x1b", a UTF-8 encoded C1
 * control as "\u009b". A terminal then shows a message quoting the
 * value instead of acting on it. The copy is cut to fit buf.
 */
void config_escape_controls(const char *text, char *buf, size_t len);

/* Writes a duration in the largest exact unit: "1h", "90s", "500ms". */
void config_format_duration(int64_t ms, char *buf, size_t len);

#endif
