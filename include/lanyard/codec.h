/*
 * codec: base64, base64url, base32, base62 and CRC-32, all bounded and strict.
 *
 * Decoders take (ptr, len), never rely on a NUL, and refuse anything that is
 * not the canonical encoding (wrong alphabet, bad padding, non-zero trailing
 * bits), so that one value has exactly one spelling.
 */
#ifndef LY_CODEC_H
#define LY_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of n bytes, without the NUL. */
size_t ly_base64_encoded_len(size_t n);    /* padded, RFC 4648 §4 */
size_t ly_base64url_encoded_len(size_t n); /* unpadded, RFC 4648 §5 / RFC 7515 §2 */

/* Encode; out must hold encoded_len + 1 bytes; NUL-terminated; returns the length. */
size_t ly_base64_encode(const void *in, size_t n, char *out);
size_t ly_base64url_encode(const void *in, size_t n, char *out);

/*
 * Decode into out (room for outmax bytes). Returns 0 and sets *outlen, or -1
 * for non-canonical input or when the result would not fit.
 * base64: padded standard alphabet. base64url: unpadded URL alphabet.
 */
int ly_base64_decode(const char *in, size_t len, void *out, size_t outmax, size_t *outlen);
int ly_base64url_decode(const char *in, size_t len, void *out, size_t outmax, size_t *outlen);

/* RFC 4648 §6 alphabet A-Z2-7, unpadded. out holds (n*8+4)/5 + 1 bytes. */
size_t ly_base32_encode(const void *in, size_t n, char *out);

/* true-ish: 1 if every byte of s is in A-Z2-7, else 0 */
int ly_base32_is_alphabet(const char *s, size_t len);

/* value in base62 (0-9A-Za-z), most significant first, left-padded with '0' to width; NUL added */
void ly_base62_encode_u32(uint32_t value, char *out, size_t width);

/* 1 if every byte of s is in 0-9A-Za-z */
int ly_base62_is_alphabet(const char *s, size_t len);

/* CRC-32/ISO-HDLC (zlib's crc32) of the n bytes at p. */
uint32_t ly_crc32(const void *p, size_t n);

#endif
