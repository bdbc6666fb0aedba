/*
 * Functions that invite overflows or hidden global state. Included by every
 * .c after build-config.h, as git's banned.h is.
 */
#ifndef LY_BANNED_H
#define LY_BANNED_H

/*
 * The headers that declare the banned functions come first, so that their
 * own inline definitions (glibc defines atoi inline) are not rewritten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LY_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) LY_BANNED(strcpy)
#undef strcat
#define strcat(x, y) LY_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) LY_BANNED(strncpy)
#undef sprintf
#define sprintf(...) LY_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) LY_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) LY_BANNED(strtok)
#undef gmtime
#define gmtime(t) LY_BANNED(gmtime)
#undef localtime
#define localtime(t) LY_BANNED(localtime)
#undef atoi
#define atoi(x) LY_BANNED(atoi)
#undef atol
#define atol(x) LY_BANNED(atol)

#endif
