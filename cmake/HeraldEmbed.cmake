# herald_embed_files(OUT <c-file> SYMBOL <name> FILES <f>...)
#
# Generates a C file holding the given files as a sorted table of
# { name, text } so that binaries carry their SQL migrations and need no
# install path at run time.
function(herald_embed_files)
  cmake_parse_arguments(E "" "OUT;SYMBOL" "FILES" ${ARGN})
  add_custom_command(
    OUTPUT ${E_OUT}
    COMMAND ${CMAKE_COMMAND} -DOUT=${E_OUT} -DSYMBOL=${E_SYMBOL}
            "-DFILES=${E_FILES}" -P ${CMAKE_SOURCE_DIR}/cmake/embed_run.cmake
    DEPENDS ${E_FILES} ${CMAKE_SOURCE_DIR}/cmake/embed_run.cmake
    COMMENT "Embedding ${E_SYMBOL}"
    VERBATIM)
endfunction()
