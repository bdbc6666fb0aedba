# crypto: SHA-256/HMAC, scrypt password hashing, and sealed secrets (AES-256-GCM)
liblanyard_a_SOURCES += src/crypto/hash.c src/crypto/password.c src/crypto/seal.c
