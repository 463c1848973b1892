# The installed layout (GNU dirs under the prefix):
#   bin/moeprobe                               the command line
#   lib/moeprobe/libmoeprobe_sentencepiece.so  SentencePiece, loaded in its own namespace
#   share/moeprobe/{families,suites,...}       bundled data (cmake/MoeprobeData.cmake)
#   lib/libmoeprobe_core.a (+ libmoeprobe_cuda.a, libmoeprobe_torch.a)   the library, for embedding
#   include/moeprobe/                          its headers, at their include paths (io/..., kernels/...)
#                                              plus the umbrella moeprobe.h
#   lib/cmake/moeprobe/                        find_package(moeprobe) -> moeprobe::core
include(CMakePackageConfigHelpers)

install(TARGETS moeprobe RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
# The SentencePiece module (loaded at run time, see CMakeLists.txt): the command line and every
# program linking the library need it.
install(TARGETS moeprobe_sentencepiece LIBRARY DESTINATION ${MOEPROBE_INSTALL_MODULEDIR}
        COMPONENT runtime)

set(moeprobe_library_targets moeprobe_core)
set_target_properties(moeprobe_core PROPERTIES EXPORT_NAME core)
if(TARGET moeprobe_cuda)
  list(APPEND moeprobe_library_targets moeprobe_cuda)
  set_target_properties(moeprobe_cuda PROPERTIES EXPORT_NAME cuda)
endif()
if(TARGET moeprobe_torch)
  list(APPEND moeprobe_library_targets moeprobe_torch)
  set_target_properties(moeprobe_torch PROPERTIES EXPORT_NAME torch_forward)
endif()
install(TARGETS ${moeprobe_library_targets} EXPORT moeprobeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development)

# Headers keep the paths the sources include them by ("io/safetensors.h" lives in src/,
# "kernels/backend.h" and "reports/..." at the root), so the installed copies include each other
# unchanged from include/moeprobe/. The command line's headers are not part of the library.
set(moeprobe_header_patterns FILES_MATCHING PATTERN "*.h")
if(NOT TARGET moeprobe_cuda)
  list(APPEND moeprobe_header_patterns PATTERN "cuda" EXCLUDE)
endif()
install(DIRECTORY ${CMAKE_SOURCE_DIR}/src/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/moeprobe
        COMPONENT development ${moeprobe_header_patterns} PATTERN "cli" EXCLUDE)
foreach(dir kernels reports)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/moeprobe
          COMPONENT development ${moeprobe_header_patterns} PATTERN "examples" EXCLUDE)
endforeach()

set(MOEPROBE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/moeprobe)
install(EXPORT moeprobeTargets NAMESPACE moeprobe:: DESTINATION ${MOEPROBE_INSTALL_CMAKEDIR}
        COMPONENT development)
set(MOEPROBE_FIND_DEPENDENCIES "")
foreach(dep IN LISTS MOEPROBE_PACKAGE_DEPENDENCIES)
  string(APPEND MOEPROBE_FIND_DEPENDENCIES "find_dependency(${dep})\n")
endforeach()
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/moeprobeConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/moeprobeConfig.cmake
  INSTALL_DESTINATION ${MOEPROBE_INSTALL_CMAKEDIR}
  PATH_VARS MOEPROBE_INSTALL_DATADIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/moeprobeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/moeprobeConfig.cmake
              ${CMAKE_BINARY_DIR}/cmake/moeprobeConfigVersion.cmake
        DESTINATION ${MOEPROBE_INSTALL_CMAKEDIR} COMPONENT development)
