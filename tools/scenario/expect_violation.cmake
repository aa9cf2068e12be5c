# Runs valerix-scenario with --corrupt CORRUPT and passes only if the run fails with exit status 1 and the report names
# every invariant in INVARIANTS: proof that the checker detects broken invariants end to end (real databases, real
# report), not only on hand-made rows.
# cmake -DRUNNER=... -DSCENARIO=... -DCORRUPT=a,b -DINVARIANTS=x;y -P expect_violation.cmake
set(work_dir ${CMAKE_CURRENT_BINARY_DIR}/corruption-selftest)
file(REMOVE_RECURSE ${work_dir})
execute_process(
  COMMAND ${RUNNER} ${SCENARIO} --corrupt ${CORRUPT} --work-dir ${work_dir}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors)
message("${output}")
if(NOT status EQUAL 1)
  message(FATAL_ERROR "expected exit status 1 (violations) after --corrupt ${CORRUPT}, got '${status}'\n${errors}")
endif()
foreach(invariant IN LISTS INVARIANTS)
  string(FIND "${output}" "VIOLATION ${invariant}:" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "the report does not name the violated invariant ${invariant}")
  endif()
  message("detected as expected: ${invariant}")
endforeach()
file(REMOVE_RECURSE ${work_dir})
