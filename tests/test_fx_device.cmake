target_sources(test_fx_device PRIVATE ${PROJECT_SOURCE_DIR}/tests/drivers/fxtest_driver.c)
