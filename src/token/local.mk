# token: opaque tokens and API keys, JWT sign/verify, signing keys and JWKS,
# and what a relying party verifies of an OpenID Connect provider (oidc.c)
liblanyard_a_SOURCES += src/token/token.c src/token/jwt.c src/token/keys.c src/token/oidc.c
noinst_HEADERS += src/token/internal.h
