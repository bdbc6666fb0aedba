liblanyard_a_SOURCES += src/core/arena.c src/core/mem.c src/core/str.c src/core/err.c \
	src/core/log.c src/core/ct.c src/core/rand.c src/core/validate.c src/core/slots.c src/core/page.c \
	src/core/civil.c src/core/metrics.c
noinst_HEADERS += src/core/banned.h
