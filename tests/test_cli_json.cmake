# The JSON writer is pure: compile it into the test.
target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tools/wdfdma/json.c)
