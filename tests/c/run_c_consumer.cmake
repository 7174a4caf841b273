# Installs the library into a scratch prefix, builds tests/c/consumer.c as C against it
# with pkg-config, and runs it against the emulator.
set(prefix ${BINARY_DIR}/c-consumer-prefix)
file(REMOVE_RECURSE ${prefix})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix}
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed")
endif()
file(GLOB pcdirs ${prefix}/lib*/pkgconfig ${prefix}/lib/*/pkgconfig)
list(GET pcdirs 0 pcdir)
set(ENV{PKG_CONFIG_PATH} ${pcdir})
execute_process(COMMAND pkg-config --cflags --libs llmsvc OUTPUT_VARIABLE flags
  RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(rc)
  message(FATAL_ERROR "pkg-config does not find llmsvc in ${pcdir}")
endif()
execute_process(COMMAND pkg-config --variable=libdir llmsvc OUTPUT_VARIABLE libdir
  OUTPUT_STRIP_TRAILING_WHITESPACE)
separate_arguments(flags UNIX_COMMAND "${flags}")
set(exe ${BINARY_DIR}/c-consumer)
set(san)
if(SANITIZE)
  set(san -fsanitize=${SANITIZE})  # the library's sanitizer runtime must come first
endif()
execute_process(COMMAND cc -std=c99 -Wall -Wextra -pedantic -Werror ${san}
    ${SOURCE_DIR}/tests/c/consumer.c -o ${exe} ${flags} -Wl,-rpath,${libdir}
  RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the C consumer did not build with: ${flags}")
endif()
execute_process(COMMAND ${exe} ${EMULATOR} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the C consumer failed (${rc})")
endif()
