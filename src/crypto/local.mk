# crypto: SHA-256/HMAC and scrypt password hashing
liblanyard_a_SOURCES += src/crypto/hash.c src/crypto/password.c
