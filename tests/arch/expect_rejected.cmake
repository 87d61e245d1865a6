# Runs src/check_layers.cmake on tests/arch/violations/ (four planted violations) and passes only when the check
# fails and names each of them, and nothing else: proof that the layering check rejects an upward include.
#
#   cmake -DCHECK=<check_layers.cmake> -DLAYERS=<layers.cmake> -DSRC_DIR=<violations dir> -P expect_rejected.cmake
execute_process(COMMAND ${CMAKE_COMMAND} -DSRC_DIR=${SRC_DIR} -DLAYERS=${LAYERS} -P ${CHECK}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "the layering check accepted the planted violations of ${SRC_DIR}")
endif()
set(expected
    "4 violation\\(s\\) of the layering"
    "memplan/upward.cpp includes \"report/text_table.h\": report is not below memplan, an upward"
    "onnx/sideways.h includes \"reference/executor.h\": reference is not below onnx"
    "testnets/unlisted.h includes \"ir/graph.h\": testnets does not use ir"
    "sim/ is a directory of the library but no layer")
foreach(pattern IN LISTS expected)
  if(NOT err MATCHES "${pattern}")
    message(FATAL_ERROR "the layering check's message lacks /${pattern}/")
  endif()
endforeach()
foreach(allowed "tiler/plan.h" "dory/requant.h" "util/diagnostic.h")
  if(err MATCHES "includes \"${allowed}\"")
    message(FATAL_ERROR "the layering check rejected the allowed include \"${allowed}\"")
  endif()
endforeach()
