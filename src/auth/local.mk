# auth: the authentication layer (SPEC §4): one dispatcher over a table of credential kinds
liblanyard_a_SOURCES += src/auth/auth.c
liblanyard_a_SOURCES += src/auth/cache.c
noinst_HEADERS += src/auth/internal.h
