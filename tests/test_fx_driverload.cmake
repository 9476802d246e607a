# test_fx_driverload loads real driver modules: a minimal KMDF driver (with its INF beside
# it) and a shared object without DriverEntry. Both go to the build's testdrivers/.
add_library(testdrv_min MODULE ${PROJECT_SOURCE_DIR}/tests/drivers/min_driver.c)
add_library(testdrv_noentry MODULE ${PROJECT_SOURCE_DIR}/tests/drivers/no_entry.c)
foreach(mod testdrv_min testdrv_noentry)
  target_include_directories(${mod} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${mod} PRIVATE wdfdma)
  set_target_properties(${mod} PROPERTIES PREFIX "" LIBRARY_OUTPUT_DIRECTORY
    ${PROJECT_BINARY_DIR}/testdrivers)
  add_dependencies(test_fx_driverload ${mod})
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/tests/drivers/min_driver.inf
  ${PROJECT_BINARY_DIR}/testdrivers/testdrv_min.inf COPYONLY)
target_compile_definitions(test_fx_driverload PRIVATE
  FXTEST_MODULE_DIR="${PROJECT_BINARY_DIR}/testdrivers")
