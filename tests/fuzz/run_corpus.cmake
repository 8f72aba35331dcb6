# ctest's run of one fuzz target: its seed corpus, then fuzzing for SECONDS more, the
# inputs it finds kept in WORK (emptied first) and never in the tree.
#   cmake -DFUZZER=... -DCORPUS=... -DWORK=... -DSECONDS=3 -P run_corpus.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus)
execute_process(COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=25 -rss_limit_mb=2048
                        -print_final_stats=1 -artifact_prefix=${WORK}/ ${WORK}/corpus ${CORPUS}
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${FUZZER}: ${status}; the input that broke it is in ${WORK}")
endif()
