# token: opaque tokens and API keys, JWT sign/verify, signing keys and JWKS
liblanyard_a_SOURCES += src/token/token.c src/token/jwt.c src/token/keys.c
noinst_HEADERS += src/token/internal.h
