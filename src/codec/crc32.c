#include "build-config.h"
#include "banned.h"
#include "lanyard/codec.h"

/*
 * CRC-32/ISO-HDLC: reflected polynomial 0xEDB88320, initial value and final
 * XOR 0xFFFFFFFF, the same as zlib's crc32(), so the token checksums of
 * SPEC §4 can be checked by any scanner. Four bits at a time from a 16-entry
 * table: small, and fast enough for tokens of under a hundred bytes.
 */

static const uint32_t nibble_table[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

uint32_t ly_crc32(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t crc = 0xffffffffu;
    size_t i;

    for (i = 0; i < n; i++) {
        crc ^= b[i];
        crc = (crc >> 4) ^ nibble_table[crc & 15];
        crc = (crc >> 4) ^ nibble_table[crc & 15];
    }
    return crc ^ 0xffffffffu;
}
