# Runs one libFuzzer target for a bounded time, as the ctest fuzz.* tests do.
#
#   cmake -DFUZZER=<exe> -DSEEDS=<dir> -DDICT=<file> -DWORK=<dir>
#         -DSECONDS=<n> -P run_fuzz.cmake
#
# The seed corpus is copied into WORK so the source tree is never written;
# new inputs accumulate there between runs, and crash inputs land in
# WORK/artifacts. Prints runs and exec/s; fails when the fuzzer finds
# anything.
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(GLOB seeds ${SEEDS}/*)
file(COPY ${seeds} DESTINATION ${WORK}/corpus)
# ASan's default 256 MB quarantine alone would take half of the RSS limit.
if(NOT "$ENV{ASAN_OPTIONS}" MATCHES "quarantine_size_mb")
  set(ENV{ASAN_OPTIONS} "$ENV{ASAN_OPTIONS}:quarantine_size_mb=64")
endif()
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=512
          -timeout=10 -dict=${DICT} -print_final_stats=1
          -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus
  RESULT_VARIABLE rv
  OUTPUT_VARIABLE out
  ERROR_VARIABLE log)
string(REGEX MATCH "stat::number_of_executed_units: *([0-9]+)" _ "${log}")
set(runs "${CMAKE_MATCH_1}")
string(REGEX MATCH "stat::average_exec_per_sec: *([0-9]+)" _ "${log}")
set(rate "${CMAKE_MATCH_1}")
string(REGEX MATCH "stat::peak_rss_mb: *([0-9]+)" _ "${log}")
set(rss "${CMAKE_MATCH_1}")
if(NOT rv EQUAL 0)
  message("${log}")
  message(FATAL_ERROR "fuzzer ${FUZZER} failed (${rv}); inputs that crash "
                      "are in ${WORK}/artifacts")
endif()
message("fuzz: ${runs} runs in ${SECONDS} s, ${rate} exec/s, "
        "peak RSS ${rss} MB, no failure")
