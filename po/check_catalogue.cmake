# ctest script: extracts the marked strings of SOURCES and checks that PO translates
# each of them (see po/CMakeLists.txt).
execute_process(COMMAND ${XGETTEXT} ${ARGS} --output=${POT} ${SOURCES} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "xgettext failed (${rc})")
endif()
execute_process(COMMAND ${MSGCMP} ${PO} ${POT} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PO} does not translate every string:\n${err}")
endif()
execute_process(COMMAND grep -c "^#, fuzzy" ${PO} OUTPUT_VARIABLE fuzzy OUTPUT_STRIP_TRAILING_WHITESPACE)
if(fuzzy GREATER 0)
  message(FATAL_ERROR "${PO} has ${fuzzy} fuzzy entries: review them")
endif()
