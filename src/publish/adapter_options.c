#include "publish/adapter_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "config/config_value.h"
#include "core/timestamp.h"
#include "publish/http_exchange.h"
#include "util/banned.h"

#define ADAPTER_MAX_TIMEOUT_MS (3600 * 1000)

int adapter_options_is_known(const char *const *known, const char *key)
{
    for (size_t k = 0; known[k] != NULL; k++) {
        size_t length = strlen(known[k]);

        /* "header_*" stands for every key that starts with "header_". */
        if (length > 0 && known[k][length - 1] == '*') {
            if (strncmp(key, known[k], length - 1) == 0 &&
                key[length - 1] != '\0')
                return 1;
        } else if (strcmp(key, known[k]) == 0) {
            return 1;
        }
    }
    return 0;
}

void adapter_options_format_list(const char *const *known, char *out,
                                 size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; known[i] != NULL && used < size; i++) {
        const char *separator = i == 0 ? "" : ", ";
        size_t length = strlen(known[i]);

        if (length > 0 && known[i][length - 1] == '*')
            used += (size_t)snprintf(out + used, size - used, "%s%.*sNAME",
                                     separator, (int)(length - 1), known[i]);
        else
            used += (size_t)snprintf(out + used, size - used, "%s%s",
                                     separator, known[i]);
    }
}

int adapter_options_check_known(const struct platform_config *platform,
                                const char *const *known, char *err,
                                size_t errlen)
{
    char names[256];

    for (size_t i = 0; i < platform->option_count; i++) {
        const char *key = platform->options[i].key;

        if (adapter_options_is_known(known, key))
            continue;

        adapter_options_format_list(known, names, sizeof names);
        snprintf(err, errlen,
                 "unknown option \"%s\" for %s platform \"%s\": the options "
                 "are %s",
                 key, platform->type, platform->name, names);
        return -1;
    }
    return 0;
}

static int has_control_char(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    }
    return 0;
}

int adapter_options_secret(const struct platform_config *platform,
                           const char *key, char **secret, char *err,
                           size_t errlen)
{
    const char *name = platform_config_option(platform, key);
    const char *value;

    if (name == NULL || name[0] == '\0') {
        snprintf(err, errlen,
                 "missing option %s for %s platform \"%s\": set it to the "
                 "name of the environment variable that holds the secret",
                 key, platform->type, platform->name);
        return -1;
    }
    if (!config_is_env_name(name)) {
        snprintf(err, errlen,
                 "invalid %s \"%s\" for %s platform \"%s\": give the name "
                 "of an environment variable, such as PUBQ_SECRET",
                 key, name, platform->type, platform->name);
        return -1;
    }

    value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        snprintf(err, errlen,
                 "environment variable %s named by %s of %s platform "
                 "\"%s\" is not set or empty; export it before starting "
                 "pubq",
                 name, key, platform->type, platform->name);
        return -1;
    }
    if (has_control_char(value)) {
        snprintf(err, errlen,
                 "environment variable %s named by %s of %s platform "
                 "\"%s\" contains a control character such as a newline; "
                 "remove it",
                 name, key, platform->type, platform->name);
        return -1;
    }

    *secret = strdup(value);
    if (*secret == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void adapter_options_free_secret(char *secret)
{
    if (secret == NULL)
        return;
    explicit_bzero(secret, strlen(secret));
    free(secret);
}

int adapter_options_timeout(const struct platform_config *platform,
                            int64_t default_ms, int64_t *timeout_ms, char *err,
                            size_t errlen)
{
    const char *text = platform_config_option(platform, "timeout");
    char reason[256];

    *timeout_ms = default_ms;
    if (text == NULL)
        return 0;

    if (timestamp_parse_duration(text, timeout_ms, reason, sizeof reason) !=
            0 ||
        *timeout_ms <= 0 || *timeout_ms > ADAPTER_MAX_TIMEOUT_MS) {
        snprintf(err, errlen,
                 "invalid timeout \"%s\" for %s platform \"%s\": use a "
                 "duration from 1ms to 1h, such as 10s",
                 text, platform->type, platform->name);
        return -1;
    }
    return 0;
}

static int is_loopback_host(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0 ||
           strcmp(host, "::1") == 0 || strcasecmp(host, "localhost") == 0;
}

/*
 * Checks the parsed parts of a URL that http_exchange_check_url
 * accepted; returns a static reason, or NULL when fine.
 */
static const char *url_problem(CURLU *parsed)
{
    char *scheme = NULL;
    char *host = NULL;
    const char *problem = NULL;

    if (curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        host[0] == '\0')
        problem = "it has no scheme or host";
    else if (strcasecmp(scheme, "https") != 0 &&
             !(strcasecmp(scheme, "http") == 0 && is_loopback_host(host)))
        problem = "it must start with https:// (http:// is accepted only "
                  "for 127.0.0.1, ::1 and localhost, because it sends "
                  "credentials in clear text)";

    curl_free(scheme);
    curl_free(host);
    return problem;
}

int adapter_options_check_url(const struct platform_config *platform,
                              const char *url, const char *what, int secret,
                              char *err, size_t errlen)
{
    CURLU *parsed = curl_url();
    char reason[256];
    const char *problem = NULL;

    if (parsed == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (http_exchange_check_url(url, reason, sizeof reason) != 0)
        problem = reason;
    else if (curl_url_set(parsed, CURLUPART_URL, url, 0) != CURLUE_OK)
        problem = "it is not a valid URL";
    else
        problem = url_problem(parsed);
    curl_url_cleanup(parsed);

    if (problem == NULL)
        return 0;
    /* A URL with '@' may carry a password before it. */
    if (secret || strchr(url, '@') != NULL)
        snprintf(err, errlen, "invalid %s of %s platform \"%s\": %s", what,
                 platform->type, platform->name, problem);
    else
        snprintf(err, errlen, "invalid %s \"%.200s\" of %s platform \"%s\": %s",
                 what, url, platform->type, platform->name, problem);
    return -1;
}
