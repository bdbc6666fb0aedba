# config: SPEC §2 from YAML (the only module that includes <yaml.h>)
liblanyard_a_SOURCES += src/config/config.c src/config/duration.c
