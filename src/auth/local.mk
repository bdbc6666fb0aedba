# auth: the authentication layer (SPEC §4): one dispatcher over a table of credential kinds
liblanyard_a_SOURCES += src/auth/auth.c
