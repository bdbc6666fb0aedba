/*
 * floor.h: what bench/floor.c (the shared FastCGI loop of the floors) asks
 * of each floor program. A floor does the one piece of work a Lanyard row
 * cannot avoid (nothing, one SELECT, one JWT signature check) and answers
 * with the bytes Lanyard sends, so bench/run.py can print each row as a
 * ratio to the floor that does the same unavoidable work.
 */
#ifndef LANYARD_BENCH_FLOOR_H
#define LANYARD_BENCH_FLOOR_H

#include <fcgiapp.h>

/* Called once per process (after fork in --listen mode): connect, load
 * keys, prepare. Returns 0, or prints why and returns non-zero. */
int floor_init(void);

/* One request: returns the HTTP status to answer with (200 gets the fixed
 * body, anything else an empty body). */
int floor_handle(FCGX_Request *req);

#endif
