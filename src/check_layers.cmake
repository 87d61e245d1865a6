# Checks that the sources of every layer of src/ include only headers of the layers src/layers.cmake lets it use:
# itself and, transitively, the layers it USES. An #include "<dir>/..." of any other layer (one above it: an
# upward include; or one beside it that it does not use) is a violation, and so is a directory of src/ that is
# no layer. Includes of other directories (the runtime's "dory/...", system headers) are not layers and pass.
#
#   cmake -DSRC_DIR=<folder with one directory per layer> [-DLAYERS=<layers.cmake>] [-DREADME=<README.md>]
#         -P check_layers.cmake
#
# The one-line order in layers.cmake's header (the line starting "util <- ", groups of directories separated by
# "<-") and, with README, the same line in README.md ("Layout") must list the layers exactly in the order
# declared, so that the description cannot drift from the build.
#
# Exit status 0 when every include is allowed; else 1, with one line per violation. src/CMakeLists.txt runs it
# before the layers compile; tests/CMakeLists.txt runs it as the tests `layering` (on src/) and
# `layering_rejects_upward_include` (on the planted violations of tests/arch/violations/).
cmake_minimum_required(VERSION 3.25)
if(NOT DEFINED SRC_DIR)
  message(FATAL_ERROR "usage: cmake -DSRC_DIR=<dir> [-DLAYERS=<layers.cmake>] -P check_layers.cmake")
endif()
if(NOT DEFINED LAYERS)
  set(LAYERS ${CMAKE_CURRENT_LIST_DIR}/layers.cmake)
endif()
file(REAL_PATH ${SRC_DIR} SRC_DIR)
file(REAL_PATH ${LAYERS} LAYERS)

# Read the layers: their order and what each may include (itself and the closure of its USES).
set(DORY_LAYER_ORDER "")
function(dory_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 LAYER "" "" "USES")
  set(allowed ${name})
  foreach(dep IN LISTS LAYER_USES)
    if(NOT dep IN_LIST DORY_LAYER_ORDER)
      message(FATAL_ERROR "${LAYERS}: '${name}' uses '${dep}', which is not a layer declared above it")
    endif()
    list(APPEND allowed ${dep} ${DORY_ALLOWED_${dep}})
  endforeach()
  list(REMOVE_DUPLICATES allowed)
  set(DORY_ALLOWED_${name} ${allowed} PARENT_SCOPE)
  list(APPEND DORY_LAYER_ORDER ${name})
  set(DORY_LAYER_ORDER ${DORY_LAYER_ORDER} PARENT_SCOPE)
endfunction()
include(${LAYERS})

set(violations "")
file(GLOB entries LIST_DIRECTORIES true RELATIVE ${SRC_DIR} ${SRC_DIR}/*)
list(SORT entries)
foreach(dir IN LISTS entries)
  if(NOT IS_DIRECTORY ${SRC_DIR}/${dir})
    continue()
  endif()
  if(NOT dir IN_LIST DORY_LAYER_ORDER)
    list(APPEND violations "${dir}/ is a directory of the library but no layer of ${LAYERS}: add it there")
    continue()
  endif()
  list(FIND DORY_LAYER_ORDER ${dir} own_rank)
  set(may_use "")
  foreach(layer IN LISTS DORY_LAYER_ORDER)  # in the order of the data flow
    if(layer IN_LIST DORY_ALLOWED_${dir})
      list(APPEND may_use ${layer})
    endif()
  endforeach()
  string(REPLACE ";" ", " may_use "${may_use}")
  file(GLOB files RELATIVE ${SRC_DIR} ${SRC_DIR}/${dir}/*.h ${SRC_DIR}/${dir}/*.cpp ${SRC_DIR}/${dir}/*.c)
  list(SORT files)
  foreach(file IN LISTS files)
    file(STRINGS ${SRC_DIR}/${file} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"[a-z_]+/")
    foreach(line IN LISTS includes)
      string(REGEX MATCH "\"([a-z_]+)/[^\"]*\"" included "${line}")
      set(layer ${CMAKE_MATCH_1})
      if(NOT layer IN_LIST DORY_LAYER_ORDER OR layer IN_LIST DORY_ALLOWED_${dir})
        continue()
      endif()
      list(FIND DORY_LAYER_ORDER ${layer} rank)
      if(rank GREATER own_rank)
        set(why "${layer} is not below ${dir}, an upward or sideways include")
      else()
        set(why "${dir} does not use ${layer}")
      endif()
      list(APPEND violations "${file} includes ${included}: ${why} (${dir} may include ${may_use})")
    endforeach()
  endforeach()
endforeach()

# The one-line summaries of the order, in layers.cmake's header and in README.md, against the declarations.
set(summaries ${LAYERS})
if(DEFINED README)
  list(APPEND summaries ${README})
endif()
foreach(doc IN LISTS summaries)
  file(STRINGS ${doc} lines REGEX "^[# ]*util <- ")
  list(LENGTH lines found)
  if(NOT found EQUAL 1)
    list(APPEND violations "${doc}: expected one line with the order (starting \"util <- \"), found ${found}")
    continue()
  endif()
  string(REGEX MATCH "util <- .*" order "${lines}")
  string(REGEX REPLACE "[ ]*(<-|,)[ ]*" ";" order "${order}")
  if(NOT order STREQUAL DORY_LAYER_ORDER)
    string(REPLACE ";" " " shown "${order}")
    string(REPLACE ";" " " declared "${DORY_LAYER_ORDER}")
    list(APPEND violations "${doc}: the order line lists ${shown}, but ${LAYERS} declares ${declared}")
  endif()
endforeach()

list(LENGTH violations count)
if(count GREATER 0)
  string(REPLACE ";" "\n  " lines "${violations}")
  message(FATAL_ERROR "layering: ${count} violation(s) of the layering of ${LAYERS}:\n  ${lines}\n"
                      "  hint: move the code to the layer that owns the fact (README.md, \"Layout\"), or, when the "
                      "dependency is right, add it to the USES of the layer in ${LAYERS}")
endif()
