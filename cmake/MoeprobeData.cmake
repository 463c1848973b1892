# moeprobe's bundled data, one place: share/moeprobe/<name> comes from <source dir>. Installed as
# is, and mirrored in the build tree by links into the source tree, so build/bin/moeprobe finds
# ../share/moeprobe exactly as an installed PREFIX/bin/moeprobe does (src/util/data_dir.h).
# Every configs/<name>/ is bundled as <name>/ (families/ today), so a new configs/ folder needs no
# edit here.
file(GLOB moeprobe_config_entries LIST_DIRECTORIES true CONFIGURE_DEPENDS
     RELATIVE ${CMAKE_SOURCE_DIR}/configs ${CMAKE_SOURCE_DIR}/configs/*)
set(MOEPROBE_DATA_ENTRIES)
foreach(name IN LISTS moeprobe_config_entries)
  if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/configs/${name})
    list(APPEND MOEPROBE_DATA_ENTRIES "${name}=configs/${name}")
  endif()
endforeach()
list(APPEND MOEPROBE_DATA_ENTRIES "suites=suites" "recipes=fixtures/recipes" "corpus=corpus")

set(MOEPROBE_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/moeprobe)
set(moeprobe_build_data ${CMAKE_BINARY_DIR}/${CMAKE_INSTALL_DATADIR}/moeprobe)
file(MAKE_DIRECTORY ${moeprobe_build_data})
foreach(entry IN LISTS MOEPROBE_DATA_ENTRIES)
  string(REPLACE "=" ";" pair "${entry}")
  list(GET pair 0 name)
  list(GET pair 1 source)
  file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${source} ${moeprobe_build_data}/${name} SYMBOLIC
       RESULT link_result)
  if(NOT link_result EQUAL 0)
    message(FATAL_ERROR "moeprobe: cannot link ${moeprobe_build_data}/${name}: ${link_result}")
  endif()
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/${source}/ DESTINATION ${MOEPROBE_INSTALL_DATADIR}/${name}
          COMPONENT runtime)
endforeach()
