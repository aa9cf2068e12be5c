# valerix_test(NAME SOURCES... LIBS ...): a GoogleTest binary registered with CTest.
function(valerix_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main Threads::Threads)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()

# valerix_embed_migrations(TARGET DIR NAMESPACE): compiles every DIR/NNNN_name.sql into the
# target as a sorted array of {version, name, sql}, so a binary carries its own schema.
function(valerix_embed_migrations target dir ns)
  file(GLOB files CONFIGURE_DEPENDS "${dir}/*.sql")
  list(SORT files)
  # The SQL is read at configure time: editing a migration must re-run CMake, not only adding one.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${files})
  set(entries "")
  foreach(f ${files})
    get_filename_component(base ${f} NAME_WE)
    string(REGEX MATCH "^([0-9]+)_(.*)$" _ ${base})
    if(NOT CMAKE_MATCH_1)
      message(FATAL_ERROR "migration ${f} must be named NNNN_name.sql")
    endif()
    math(EXPR version "${CMAKE_MATCH_1}")
    file(READ ${f} sql)
    string(APPEND entries "    {${version}, \"${CMAKE_MATCH_2}\", R\"valerix_sql(${sql})valerix_sql\"},\n")
  endforeach()
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}_migrations.cpp")
  file(CONFIGURE OUTPUT ${out} CONTENT
"// Generated from ${dir}; do not edit.
#include <valerix/pg/migrations.hpp>
namespace ${ns} {
const std::vector<valerix::pg::Migration>& Migrations() {
  static const std::vector<valerix::pg::Migration> kMigrations = {
${entries}  };
  return kMigrations;
}
}  // namespace ${ns}
")
  target_sources(${target} PRIVATE ${out})
endfunction()
