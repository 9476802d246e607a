target_sources(test_fx_interrupt PRIVATE ${PROJECT_SOURCE_DIR}/tests/drivers/fxtest_driver.c)
