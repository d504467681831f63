# Test registration.
#
# herald_unit_test(<source> LABEL <label> LIBS <libs>... [SUPPORT <extra srcs>])
#   Builds one executable from <source> and registers one ctest per
#   TEST(name) found in it, as <label>.<stem>.<name>; the executable runs the
#   test named by its first argument (tests/support/check.h).
#
# Integration tests exit 77 (skipped) when they cannot reach PostgreSQL and
# CI is not set; under CI=true tests/support/pgtest.c turns that into a
# failure, so nothing skips in CI.
function(herald_unit_test src)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT" "LIBS;SUPPORT;ENV" ${ARGN})
  get_filename_component(stem ${src} NAME_WE)
  set(exe ${T_LABEL}_${stem})
  add_executable(${exe} ${src} ${T_SUPPORT})
  herald_warnings(${exe})
  target_include_directories(${exe} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  target_link_libraries(${exe} PRIVATE herald_test_support ${T_LIBS})
  file(STRINGS ${src} lines REGEX "^TEST\\([a-z0-9_]+\\)")
  if(NOT lines)
    message(FATAL_ERROR "${src} declares no TEST(name)")
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^TEST\\(([a-z0-9_]+)\\).*" "\\1" name "${line}")
    add_test(NAME ${T_LABEL}.${stem}.${name} COMMAND ${exe} ${name})
    set_tests_properties(${T_LABEL}.${stem}.${name} PROPERTIES
      LABELS ${T_LABEL} SKIP_RETURN_CODE 77 TIMEOUT ${T_TIMEOUT}
      ENVIRONMENT "${T_ENV}")
  endforeach()
endfunction()
