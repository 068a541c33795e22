/*
 * Option checks shared by the HTTP adapters (mastodon, discord, slack):
 * the set of known keys, secrets read from the environment variable that
 * a *_env option names, the request timeout and https URLs.
 *
 * Every function returns 0 on success, or -1 with a message in err that
 * names the platform, the option and the fix. No message ever contains
 * the value of a secret.
 */
#ifndef PUBQ_ADAPTER_OPTIONS_H
#define PUBQ_ADAPTER_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/*
 * Returns 1 when `key` is in `known`, a NULL-terminated list of option
 * names in which an entry ending in '*' matches every key that starts
 * with the text before it ("header_*" matches "header_X-Source").
 */
int adapter_options_is_known(const char *const *known, const char *key);

/* Writes the names in `known` to out, comma-separated, "header_*" as
 * "header_NAME"; a list longer than size is cut short. */
void adapter_options_format_list(const char *const *known, char *out,
                                 size_t size);

/*
 * Rejects the first option whose key is not in `known` (a list as for
 * adapter_options_is_known), naming the key and every known one.
 */
int adapter_options_check_known(const struct platform_config *platform,
                                const char *const *known, char *err,
                                size_t errlen);

/*
 * Reads the secret stored in the environment variable that option `key`
 * (such as "access_token_env") names. Rejects a missing option, an
 * invalid variable name, an unset or empty variable, and a value with a
 * control character (it could not go into an HTTP header or URL). On
 * success sets *secret to a copy the caller frees with
 * adapter_options_free_secret().
 */
int adapter_options_secret(const struct platform_config *platform,
                           const char *key, char **secret, char *err,
                           size_t errlen);

/* Overwrites and frees a secret from adapter_options_secret; NULL is ok. */
void adapter_options_free_secret(char *secret);

/*
 * Reads the `timeout` option, a duration from 1 ms to 1 h such as "10s",
 * into *timeout_ms; sets default_ms when the option is absent.
 */
int adapter_options_timeout(const struct platform_config *platform,
                            int64_t default_ms, int64_t *timeout_ms, char *err,
                            size_t errlen);

/*
 * Checks that `url` passes http_exchange_check_url (a host after "//",
 * no user name or password) and is an https URL, or an http URL whose
 * host is a loopback address (127.0.0.1, ::1 or localhost: a local relay
 * or a test server). `what` names the URL in messages ("option
 * instance", "the webhook URL in DISCORD_HOOK"). When `secret` is
 * nonzero the URL contains a credential, so err never quotes it.
 */
int adapter_options_check_url(const struct platform_config *platform,
                              const char *url, const char *what, int secret,
                              char *err, size_t errlen);

#endif
