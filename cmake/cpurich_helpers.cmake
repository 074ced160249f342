# Small helpers so each folder's CMakeLists stays a few lines long.

# cpurich_library(NAME DEPS...): a static library from every .cpp in the
# current folder. Headers are included as "folder/file.h" from the repo root.
function(cpurich_library name)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(sources)
    add_library(${name} STATIC ${sources})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} PUBLIC ${ARGN})
  else()  # a folder with headers only (so far)
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} INTERFACE ${ARGN})
  endif()
endfunction()

# cpurich_executables_from_folder(PREFIX DEPS...): one executable per .cpp
# file, named after the file (lessons/01_tensors.cpp -> 01_tensors).
function(cpurich_executables_from_folder prefix)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  foreach(src ${sources})
    get_filename_component(stem ${src} NAME_WE)
    add_executable(${prefix}${stem} ${src})
    set_target_properties(${prefix}${stem} PROPERTIES OUTPUT_NAME ${stem})
    target_link_libraries(${prefix}${stem} PRIVATE ${ARGN})
  endforeach()
endfunction()

# cpurich_check_layering(PARTS...): the parts in order, lowest first. A part
# may link (directly) only parts listed before it, and a source file of a part
# may include "other/..." only if `other` is the part itself or reachable
# through its links. Either mistake stops the configure step with one line
# naming the file or the link, so the README's dependency line stays true.
function(cpurich_check_layering)
  set(seen "")
  foreach(part ${ARGN})
    get_target_property(links cpurich_${part} LINK_LIBRARIES)
    if(NOT links)
      get_target_property(links cpurich_${part} INTERFACE_LINK_LIBRARIES)
    endif()
    set(reach ${part})
    foreach(lib ${links})
      if(lib MATCHES "^cpurich_(.+)$")
        set(dep ${CMAKE_MATCH_1})
        if(NOT dep IN_LIST seen)
          message(FATAL_ERROR "layering: ${part} links ${dep}, which is not below it (order: ${ARGN})")
        endif()
        list(APPEND reach ${dep} ${reach_${dep}})
      endif()
    endforeach()
    list(REMOVE_DUPLICATES reach)
    set(reach_${part} ${reach})
    file(GLOB files ${PROJECT_SOURCE_DIR}/${part}/*.cpp ${PROJECT_SOURCE_DIR}/${part}/*.h)
    foreach(f ${files})
      file(STRINGS ${f} includes REGEX "^#include \"[a-z_]+/")
      foreach(line ${includes})
        string(REGEX MATCH "^#include \"([a-z_]+)/" _ "${line}")
        set(other ${CMAKE_MATCH_1})
        if(other IN_LIST ARGN AND NOT other IN_LIST reach)
          message(FATAL_ERROR "layering: ${f} includes ${other}/, which ${part} does not link")
        endif()
      endforeach()
    endforeach()
    list(APPEND seen ${part})
  endforeach()
endfunction()
