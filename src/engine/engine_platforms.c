#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#include "util/banned.h"

static int load_platform(struct platform_runtime *runtime,
                         const struct platform_config *platform,
                         const char *config_path, char *err, size_t errlen)
{
    runtime->config = platform;
    return adapter_create_platform(platform, config_path, &runtime->adapter,
                                   &runtime->adapter_state, err, errlen);
}

int engine_platforms_load(struct engine *engine, char *err, size_t errlen)
{
    const struct pubq_config *config = engine->config;

    engine->platforms = calloc(config->platform_count + 1,
                               sizeof *engine->platforms);
    engine->open_platforms = calloc(config->platform_count + 1,
                                    sizeof *engine->open_platforms);
    if (engine->platforms == NULL || engine->open_platforms == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    for (size_t i = 0; i < config->platform_count; i++) {
        if (load_platform(&engine->platforms[i], &config->platforms[i],
                          config->path, err, errlen) != 0)
            return -1;
        engine->platform_count++;
        log_info("engine", "platform %s type=%s concurrency=%u",
                 config->platforms[i].name, config->platforms[i].type,
                 config->platforms[i].concurrency);
    }
    return 0;
}

void engine_platforms_free(struct engine *engine)
{
    for (size_t i = 0; i < engine->platform_count; i++) {
        struct platform_runtime *runtime = &engine->platforms[i];

        runtime->adapter->destroy(runtime->adapter_state);
    }
    free(engine->platforms);
    free(engine->open_platforms);
    engine->platforms = NULL;
    engine->open_platforms = NULL;
    engine->platform_count = 0;
    engine->open_platform_count = 0;
}

struct platform_runtime *engine_platform_find(struct engine *engine,
                                              const char *name)
{
    for (size_t i = 0; i < engine->platform_count; i++) {
        if (strcmp(engine->platforms[i].config->name, name) == 0)
            return &engine->platforms[i];
    }
    return NULL;
}
