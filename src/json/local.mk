liblanyard_a_SOURCES += src/json/json.c src/json/writer.c
