# aaj_embed(TARGET <lib> NAME <name> BASE <dir> FILES <f>...)
# Compiles the files' bytes into <lib>, so the binary carries its default policy, catalogue and
# message files and runs without a data directory. The generated source defines
#   std::span<const aaj::embedded::File> aaj::embedded::bundle_<name>();
# which the consuming code declares (see core/embedded.h) and calls.
function(aaj_embed)
  cmake_parse_arguments(E "" "TARGET;NAME;BASE" "FILES" ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded_${E_NAME}.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNAME=${E_NAME} -DBASE=${E_BASE}
            "-DFILES=${E_FILES}" -P ${PROJECT_SOURCE_DIR}/cmake/embed_gen.cmake
    DEPENDS ${E_FILES} ${PROJECT_SOURCE_DIR}/cmake/embed_gen.cmake
    COMMENT "Embedding ${E_NAME}"
    VERBATIM)
  target_sources(${E_TARGET} PRIVATE ${out})
endfunction()
