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
