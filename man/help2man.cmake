# Build step of man/CMakeLists.txt: runs help2man (HELP2MAN, its ARGS), writing OUT,
# and names the page TITLE in its header (help2man names it after the program, which is
# wrong for a subcommand's page).
# The pages are English: the programs that speak the reader's language (vigie-console)
# must not pick the build machine's.
execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=LANGUAGE LC_ALL=C LC_MESSAGES=C LANG=C
                        ${HELP2MAN} ${ARGS} --output=${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed (${rc}) writing ${OUT}")
endif()
if(TITLE)
  file(READ ${OUT} page)
  string(REGEX REPLACE "\n\\.TH [^ ]+ " "\n.TH ${TITLE} " page "${page}")
  file(WRITE ${OUT} "${page}")
endif()
