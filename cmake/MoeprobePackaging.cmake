# `cpack -G DEB` in the build directory (or `cmake --build build --target package`) writes
# build/packages/moeprobe_<version>_<arch>.deb, installing under /usr. Runtime library
# dependencies are computed by dpkg-shlibdeps; the -dev packages a program embedding the library
# needs are suggested, not required.
set(MOEPROBE_PACKAGE_MAINTAINER "moeprobe developers" CACHE STRING "Maintainer field of the .deb")
set(CPACK_PACKAGE_NAME moeprobe)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Checks findings about Mixture-of-Experts LLM checkpoints, in CI")
set(CPACK_PACKAGE_CONTACT "${MOEPROBE_PACKAGE_MAINTAINER}")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libyaml-cpp-dev, nlohmann-json3-dev")
include(CPack)
