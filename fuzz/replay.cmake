# Replays every fuzz target's seed corpus and saved crashes as ctest
# tests, without libFuzzer: each target source is linked with the replay
# main of tests/fuzz_replay and built like the other tests (the compiler
# and PUBQ_SANITIZE flags of the main build). Included from the top-level
# CMakeLists.txt after pubq_lib is defined.

set(FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(FUZZ_TARGETS
    fuzz_intake fuzz_timestamp fuzz_retry_after fuzz_cron fuzz_config
    fuzz_import fuzz_adapter_replies fuzz_zone)

add_library(pubq_fuzz_support STATIC
    ${FUZZ_DIR}/fuzz_support.c ${FUZZ_DIR}/fake_reply.c)
target_include_directories(pubq_fuzz_support PUBLIC ${FUZZ_DIR})
target_link_libraries(pubq_fuzz_support PUBLIC pubq_lib)

foreach(target ${FUZZ_TARGETS})
    add_executable(replay_${target}
        ${CMAKE_SOURCE_DIR}/tests/fuzz_replay/replay_main.c
        ${FUZZ_DIR}/${target}.c)
    target_link_libraries(replay_${target} PRIVATE pubq_fuzz_support)
    add_test(NAME replay_${target}
        COMMAND replay_${target} ${FUZZ_DIR}/corpus/${target}
                ${FUZZ_DIR}/crashes/${target})
    set_tests_properties(replay_${target} PROPERTIES TIMEOUT 300)
endforeach()
