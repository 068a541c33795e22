#include "config/config_value.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define NAME_MAX_LENGTH 63

int config_parse_unsigned(const char *text, uint64_t min, uint64_t max,
                          uint64_t *out)
{
    char *end;
    unsigned long long value;

    /* strtoull accepts signs and leading spaces; a count must not. */
    if (!isdigit((unsigned char)text[0]))
        return -1;

    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        return -1;

    *out = value;
    return 0;
}

int config_parse_bytes(const char *text, uint64_t *out)
{
    static const struct {
        const char *name;
        uint64_t factor;
    } units[] = {{"", 1},       {"B", 1},           {"K", 1024},
                 {"KiB", 1024}, {"M", 1024 * 1024}, {"MiB", 1024 * 1024}};
    char *end;
    unsigned long long value;

    if (!isdigit((unsigned char)text[0]))
        return -1;

    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno != 0)
        return -1;

    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].name) != 0)
            continue;
        if (value > UINT64_MAX / units[i].factor)
            return -1;
        *out = value * units[i].factor;
        return 0;
    }
    return -1;
}

int config_parse_fraction(const char *text, double *out)
{
    char *end;
    double value;

    if (!isdigit((unsigned char)text[0]) && text[0] != '.')
        return -1;

    errno = 0;
    value = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !(value >= 0.0 && value <= 1.0))
        return -1;

    *out = value;
    return 0;
}

int config_is_env_name(const char *text)
{
    if (!(isalpha((unsigned char)text[0]) || text[0] == '_'))
        return 0;

    for (const char *c = text; *c != '\0'; c++) {
        if (!(isalnum((unsigned char)*c) || *c == '_'))
            return 0;
    }
    return 1;
}

static int ends_with(const char *text, const char *suffix)
{
    size_t text_length = strlen(text);
    size_t suffix_length = strlen(suffix);

    return text_length >= suffix_length &&
           strcmp(text + text_length - suffix_length, suffix) == 0;
}

int config_is_env_key(const char *key)
{
    return ends_with(key, "_env");
}

/*
 * Returns 1 when `name` (lowercase) ends in "_key" after a word that
 * makes the key a credential: api_key, signing_key, but not sort_key.
 */
static int is_credential_key(const char *name)
{
    static const char *const qualifiers[] = {
        "api",  "access", "secret", "private", "signing",
        "hmac", "auth",   "client", "encryption"};
    size_t length = strlen(name);

    if (!ends_with(name, "_key"))
        return 0;

    for (size_t i = 0; i < sizeof qualifiers / sizeof qualifiers[0]; i++) {
        size_t word = strlen(qualifiers[i]);
        const char *start = name + length - strlen("_key") - word;

        if (length < word + strlen("_key"))
            continue;
        if (strncmp(start, qualifiers[i], word) == 0 &&
            (start == name || start[-1] == '_'))
            return 1;
    }
    return 0;
}

int config_is_secret_key(const char *key)
{
    static const char *const words[] = {
        "token",  "password",    "passwd",     "secret",
        "apikey", "credentials", "credential", "passphrase"};
    /* Whole keys whose value is a credential without a credential word
     * in the name. A Discord or Slack webhook URL contains its token. */
    static const char *const credential_keys[] = {"webhook_url"};
    char lower[128];
    const char *last_word;
    size_t length = strlen(key);

    if (length >= sizeof lower)
        length = sizeof lower - 1;
    for (size_t i = 0; i < length; i++)
        lower[i] = (char)tolower((unsigned char)key[i]);
    lower[length] = '\0';

    if (ends_with(lower, "_env"))
        return 0;

    for (size_t i = 0; i < sizeof credential_keys / sizeof credential_keys[0];
         i++) {
        if (strcmp(lower, credential_keys[i]) == 0)
            return 1;
    }
    if (strcmp(lower, "key") == 0 || is_credential_key(lower))
        return 1;

    /* The last word decides: access_token, app_password, db_secret. */
    last_word = strrchr(lower, '_');
    last_word = last_word == NULL ? lower : last_word + 1;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcmp(last_word, words[i]) == 0)
            return 1;
    }
    return 0;
}

static int check_host(const char *host, size_t length)
{
    if (length == 0)
        return -1;

    if (host[0] == '[')
        return length > 2 && host[length - 1] == ']' ? 0 : -1;

    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)host[i];

        if (!(isalnum(c) || c == '.' || c == '-'))
            return -1;
    }
    return 0;
}

int config_check_listen(const char *text)
{
    const char *colon = strrchr(text, ':');
    uint64_t port;

    if (colon == NULL)
        return -1;

    if (check_host(text, (size_t)(colon - text)) != 0)
        return -1;

    return config_parse_unsigned(colon + 1, 1, 65535, &port);
}

static int is_name(const char *text, const char *extra, int upper_ok)
{
    size_t length = strlen(text);

    if (length == 0 || length > NAME_MAX_LENGTH)
        return 0;

    for (const char *c = text; *c != '\0'; c++) {
        unsigned char u = (unsigned char)*c;

        if (islower(u) || isdigit(u) || (upper_ok && isupper(u)))
            continue;
        if (strchr(extra, *c) == NULL)
            return 0;
    }
    return 1;
}

int config_is_platform_name(const char *text)
{
    return is_name(text, "_-", 0);
}

int config_is_node_id(const char *text)
{
    return is_name(text, "._-", 1);
}

void config_escape_controls(const char *text, char *buf, size_t len)
{
    const unsigned char *in = (const unsigned char *)text;
    size_t used = 0;

    while (*in != '\0' && used + 1 < len) {
        char escape[8] = "";

        if (*in < 0x20 || *in == 0x7f)
            snprintf(escape, sizeof escape, "\\x%02x", *in);
        else if (in[0] == 0xc2 && in[1] >= 0x80 && in[1] <= 0x9f)
            snprintf(escape, sizeof escape, "\\u00%02x", in[1]);

        if (escape[0] == '\0') {
            buf[used++] = (char)*in++;
            continue;
        }
        if (used + strlen(escape) + 1 > len)
            break;
        memcpy(buf + used, escape, strlen(escape));
        used += strlen(escape);
        in += escape[1] == 'u' ? 2 : 1;
    }
    buf[used] = '\0';
}

void config_format_duration(int64_t ms, char *buf, size_t len)
{
    static const struct {
        const char *suffix;
        int64_t factor;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};

    if (ms == 0) {
        snprintf(buf, len, "0");
        return;
    }

    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms % units[i].factor == 0) {
            snprintf(buf, len, "%lld%s", (long long)(ms / units[i].factor),
                     units[i].suffix);
            return;
        }
    }
    snprintf(buf, len, "%lldms", (long long)ms);
}
