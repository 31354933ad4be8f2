# What `cmake --install` adds beyond the binary and the playbooks, and the
# Debian package (CPack; scripts/package builds it):
#   man pages, gzipped              share/man/man{1,5,7}/
#   bash and zsh completions        share/bash-completion/completions/loop,
#                                   share/zsh/vendor-completions/_loop
#   the systemd unit                lib/systemd/system/loop-supervise@.service
#   copyright, changelog, examples  share/doc/loop/
#   the lintian override            share/lintian/overrides/loop

set(LOOP_PACKAGE_MAINTAINER "loop maintainers <maintainers@users.noreply.b-seed-5c34eb70.example>"
    CACHE STRING "Maintainer field of the Debian package")
set(LOOP_DEB_RELEASE 1)
set(LOOP_DEB_VERSION "${PROJECT_VERSION}-${LOOP_DEB_RELEASE}")
set(gen ${CMAKE_CURRENT_BINARY_DIR}/generated)

# Completions, from the built binary: they are what `loop completion` prints.
add_custom_command(
  OUTPUT ${gen}/completions/loop ${gen}/completions/_loop
  COMMAND ${CMAKE_COMMAND} -E make_directory ${gen}/completions
  COMMAND sh -c "\"$1\" completion bash >\"$2\" && \"$1\" completion zsh >\"$3\"" sh
          $<TARGET_FILE:loop> ${gen}/completions/loop ${gen}/completions/_loop
  DEPENDS loop
  COMMENT "Generating the bash and zsh completions"
  VERBATIM)

# Gzipped man pages and changelog (-n: no name or time stamp, so the package
# is reproducible; -9 as Debian policy asks).
set(loop_gz_outputs ${gen}/changelog.Debian.gz)
configure_file(packaging/changelog.Debian.in ${gen}/changelog.Debian @ONLY)
add_custom_command(
  OUTPUT ${gen}/changelog.Debian.gz
  COMMAND sh -c "gzip -9nc \"$1\" >\"$2\"" sh ${gen}/changelog.Debian ${gen}/changelog.Debian.gz
  DEPENDS ${gen}/changelog.Debian
  VERBATIM)
file(GLOB LOOP_MAN_PAGES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/man/*.[157])
foreach(page ${LOOP_MAN_PAGES})
  get_filename_component(base ${page} NAME)
  string(REGEX REPLACE "^.*\\.([0-9])$" "\\1" section ${base})
  add_custom_command(
    OUTPUT ${gen}/man/${base}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${gen}/man
    COMMAND sh -c "gzip -9nc \"$1\" >\"$2\"" sh ${page} ${gen}/man/${base}.gz
    DEPENDS ${page}
    VERBATIM)
  list(APPEND loop_gz_outputs ${gen}/man/${base}.gz)
  install(FILES ${gen}/man/${base}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(loop_install_files ALL DEPENDS ${gen}/completions/loop ${gen}/completions/_loop
                                                 ${loop_gz_outputs})

install(FILES ${gen}/completions/loop DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${gen}/completions/_loop DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES packaging/copyright ${gen}/changelog.Debian.gz README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES playbooks/cron-reap.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES packaging/cron.d/loop-reap DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/cron.d)
install(FILES packaging/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        RENAME loop)

# The unit names the binary by its installed path, known only at install
# time (CPack installs with the prefix /usr, `cmake --install` with
# CMAKE_INSTALL_PREFIX or --prefix): written then.
set(LOOP_SYSTEMD_UNIT_DIR "lib/systemd/system"
    CACHE STRING "Where the systemd unit goes, relative to the install prefix (or absolute)")
install(CODE "
  set(bindir \"${CMAKE_INSTALL_BINDIR}\")
  if(NOT IS_ABSOLUTE \"\${bindir}\")
    set(bindir \"\${CMAKE_INSTALL_PREFIX}/\${bindir}\")
  endif()
  set(unitdir \"${LOOP_SYSTEMD_UNIT_DIR}\")
  if(NOT IS_ABSOLUTE \"\${unitdir}\")
    set(unitdir \"\${CMAKE_INSTALL_PREFIX}/\${unitdir}\")
  endif()
  file(READ \"${CMAKE_CURRENT_SOURCE_DIR}/packaging/loop-supervise@.service.in\" unit)
  string(REPLACE \"@LOOP_BINDIR@\" \"\${bindir}\" unit \"\${unit}\")
  # A directory of its own per install, so that two at once do not share it.
  string(RANDOM LENGTH 12 tag)
  set(tmp \"${gen}/unit.\${tag}\")
  file(WRITE \"\${tmp}/loop-supervise@.service\" \"\${unit}\")
  file(INSTALL DESTINATION \"\${unitdir}\" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES \"\${tmp}/loop-supervise@.service\")
  file(REMOVE_RECURSE \"\${tmp}\")
")

# The Debian package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME loop)
set(CPACK_PACKAGE_VENDOR "loop maintainers")
set(CPACK_PACKAGE_CONTACT "${LOOP_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "local control-loop supervisor with filesystem claims")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "loop keeps the workers of a playbook running on one machine and gives shell
scripts atomic, liveness-aware claims (named leases) that a crashed holder
never leaves behind: loop _ claim NAME, loop _ with NAME -- COMMAND,
loop supervise PLAYBOOK, loop reap (for cron).
.
State is plain files under one directory; there is no server and no database.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${LOOP_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_RELEASE ${LOOP_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
    GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_STRIP_FILES ON)
# Absolute install paths, so that the unit written at install time names
# /usr/bin/loop, not the staging directory.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
if(LOOP_STATIC)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
endif()
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/package)
include(CPack)
