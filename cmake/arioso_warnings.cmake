# Warning flags applied PRIVATE to each of our targets (never to third-party headers).
function(arioso_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
  if(ARIOSO_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# arioso_add_library(name SOURCES... DEPS ...): static library arioso_<name>, alias arioso::<name>.
function(arioso_add_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(arioso_${name} STATIC ${A_SOURCES})
  add_library(arioso::${name} ALIAS arioso_${name})
  target_include_directories(arioso_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(arioso_${name} PUBLIC ${A_DEPS})
  arioso_warnings(arioso_${name})
endfunction()

# arioso_add_test(name SOURCES... DEPS ... [LABELS ...]): one GoogleTest binary registered with CTest.
function(arioso_add_test name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    ARIOSO_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    ARIOSO_BINARY_DIR="${PROJECT_BINARY_DIR}")
  arioso_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(A_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}")
  endif()
endfunction()
