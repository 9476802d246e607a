# test_wdf_headers: a second translation unit declaring the same WDF context types.
target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/wdf_headers_tu2.c)
