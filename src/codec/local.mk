# codec: base64/base64url/base32/base62/crc32
liblanyard_a_SOURCES += src/codec/base64.c src/codec/base32.c src/codec/base62.c \
	src/codec/crc32.c
