target_sources(test_fx_pnp PRIVATE ${PROJECT_SOURCE_DIR}/tests/drivers/fxtest_driver.c)
