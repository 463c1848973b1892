# The installed layout (GNU dirs under the prefix):
#   bin/moeprobe                               the command line
#   lib/moeprobe/libmoeprobe_sentencepiece.so  SentencePiece, loaded in its own namespace
#   lib/moeprobe/libmoeprobe_forward_torch.so  the LibTorch forward pass, loaded on first use
#   share/moeprobe/{families,suites,...}       bundled data (cmake/MoeprobeData.cmake)
#   lib/libmoeprobe_core.so                    the library (the command line, the modules and
#                                              programs embedding moeprobe link it)
#   lib/moeprobe/libmoeprobe_cuda.so           the CUDA backend, loaded when a GPU is asked for
#   include/moeprobe/                          its headers, at their include paths (io/..., kernels/...)
#                                              plus the umbrella moeprobe.h
#   lib/cmake/moeprobe/                        find_package(moeprobe) -> moeprobe::core
include(CMakePackageConfigHelpers)

install(TARGETS moeprobe RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
# The SentencePiece module (loaded at run time, see CMakeLists.txt): the command line and every
# program linking the library need it.
install(TARGETS moeprobe_sentencepiece LIBRARY DESTINATION ${MOEPROBE_INSTALL_MODULEDIR}
        COMPONENT runtime)

# The modules loaded on first use (CMakeLists.txt): the LibTorch forward pass, the CUDA backend.
foreach(module moeprobe_forward_torch moeprobe_cuda)
  if(TARGET ${module})
    set_target_properties(${module} PROPERTIES INSTALL_RPATH "$ORIGIN/..")
    install(TARGETS ${module} LIBRARY DESTINATION ${MOEPROBE_INSTALL_MODULEDIR} COMPONENT runtime)
  endif()
endforeach()

set_target_properties(moeprobe_core PROPERTIES EXPORT_NAME core)
install(TARGETS moeprobe_core EXPORT moeprobeTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime)

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
