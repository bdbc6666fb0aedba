/*
 * slots: a counting semaphore shared by every process of a host, with
 * nothing to clean up: slot i of set `name` is the Linux abstract unix
 * socket "\0lanyard/<name>/<i>", held while its socket is bound and given
 * back when it is closed, which the kernel also does when a holder dies.
 * Used to bound how many scrypt computations run at once (SPEC §5.2,
 * security.scrypt_concurrency) across workers that have no common parent
 * (lighttpd and mod_fcgid spawn them one by one).
 */
#ifndef LY_SLOTS_H
#define LY_SLOTS_H

#include <stdint.h>

/*
 * Take one of n slots of set name, waiting up to wait_ms for one to come
 * free. LY_OK with *fd (give it back with ly_slot_give), LY_E_UNAVAILABLE
 * when none came free in time, LY_E_IO when sockets cannot be made.
 */
int ly_slot_take(const char *name, unsigned n, int64_t wait_ms, int *fd);
void ly_slot_give(int fd);

#endif
