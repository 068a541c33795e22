/*
 * Fuzzes the configuration file: the input is written to a file and read
 * with config_load. A file that loads then has every platform section
 * checked by its adapter's create(), as pubq serve does at start-up.
 * create() only checks options and reads secrets from the environment:
 * no adapter connects, writes or runs anything before an attempt.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "fuzz_support.h"
#include "publish/adapter.h"

#include "util/banned.h"

static const char *config_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Sets the PUBQ_FUZZ_* secrets that the seeds name. */
    fuzz_config();
    config_path = fuzz_temp_path("fuzzed.conf");
    return 0;
}

static void create_adapters(const struct pubq_config *config)
{
    for (size_t i = 0; i < config->platform_count; i++) {
        const struct platform_config *platform = &config->platforms[i];
        const struct adapter_ops *ops = adapter_find(platform->type);
        char err[ADAPTER_ERR_MAX] = "";
        void *state = NULL;

        if (config_find_platform(config, platform->name) != platform)
            fuzz_fail("platform \"%s\" is defined twice", platform->name);
        if (ops == NULL)
            continue;
        if (ops->create(platform, &state, err, sizeof err) != 0) {
            if (err[0] == '\0')
                fuzz_fail("%s create() failed without a message",
                          platform->type);
            continue;
        }
        ops->destroy(state);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";

    fuzz_write_file(config_path, data, size);
    memset(&config, 0xA5, sizeof config);
    if (config_load(config_path, &config, err, sizeof err) != 0) {
        if (err[0] == '\0')
            fuzz_fail("config_load failed without a message");
        return 0;
    }
    create_adapters(&config);
    config_free(&config);
    return 0;
}
