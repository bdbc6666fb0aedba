/*
 * fcgi_floor: the bare FastCGI floor that bench/run.py measures lanyard
 * against. It parses nothing and touches no database, so what it costs is
 * the web server, the FastCGI protocol and the accept loop (bench/floor.c):
 * what no handler can go below.
 */
#include "build-config.h"
#include "banned.h"

#include "floor.h"

int floor_init(void)
{
    return 0;
}

int floor_handle(FCGX_Request *req)
{
    (void)req;
    return 200;
}
