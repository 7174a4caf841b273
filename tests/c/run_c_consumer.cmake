# Installs the library into a scratch prefix, builds tests/c/consumer.c as C against it
# with pkg-config and again with find_package(llmsvc), and runs both against the emulator.
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

# The same program through find_package(llmsvc) and the exported llmsvc::llmsvc target.
set(proj ${BINARY_DIR}/c-consumer-cmake)
file(REMOVE_RECURSE ${proj})
file(MAKE_DIRECTORY ${proj})
file(WRITE ${proj}/CMakeLists.txt "cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(llmsvc 0.1 REQUIRED)
add_executable(consumer ${SOURCE_DIR}/tests/c/consumer.c)
target_link_libraries(consumer PRIVATE llmsvc::llmsvc)
target_compile_options(consumer PRIVATE ${san})
target_link_options(consumer PRIVATE ${san})
")
execute_process(COMMAND ${CMAKE_COMMAND} -S ${proj} -B ${proj}/build -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_BUILD_RPATH=${libdir}
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "find_package(llmsvc) failed against ${prefix}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${proj}/build RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "the find_package consumer did not build")
endif()
execute_process(COMMAND ${proj}/build/consumer ${EMULATOR} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the find_package consumer failed (${rc})")
endif()
