liblanyard_a_SOURCES += src/api/health.c
