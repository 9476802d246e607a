# test_verifier loads one deliberately broken KMDF driver per verifier rule
# (tests/drivers/broken_<rule>.c, each a shared object with DriverEntry, built like the
# sample drivers against the WDK-named headers only) from the build's brokendrivers/.
file(GLOB WDFDMA_BROKEN_DRIVERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/drivers/broken_*.c)
foreach(src ${WDFDMA_BROKEN_DRIVERS})
  get_filename_component(mod ${src} NAME_WE)
  add_library(${mod} MODULE ${src})
  target_include_directories(${mod} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${mod} PRIVATE wdfdma)
  set_target_properties(${mod} PROPERTIES PREFIX "" LIBRARY_OUTPUT_DIRECTORY
    ${PROJECT_BINARY_DIR}/brokendrivers)
  add_dependencies(test_verifier ${mod})
endforeach()
target_compile_definitions(test_verifier PRIVATE
  BROKEN_DRIVER_DIR="${PROJECT_BINARY_DIR}/brokendrivers")
