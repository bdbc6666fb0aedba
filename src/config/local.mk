# config: SPEC §2 from YAML (yaml.c is the only file that includes <yaml.h>)
liblanyard_a_SOURCES += src/config/config.c src/config/diag.c src/config/yaml.c src/config/keys.c \
	src/config/cidr.c src/config/file.c src/config/dump.c src/config/duration.c
noinst_HEADERS += src/config/internal.h
