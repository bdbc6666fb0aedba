liblanyard_a_SOURCES += src/ctl/ctl.c
