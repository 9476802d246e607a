# The option parser is pure: compile it into the test, no machine involved.
target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tools/wdfdma/options.c)
