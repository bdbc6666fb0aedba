/*
 * router: matching a request's method and path against a table of routes
 * (the table itself, with what each route needs, is the API layer's:
 * src/api/api.c). Also the media type check of SPEC §3.
 */
#ifndef LY_ROUTER_H
#define LY_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "lanyard/arena.h"

/* The part of a route the matcher reads; the API layer's route struct begins with it. */
struct ly_route_key {
    const char *method;
    const char *pattern; /* segments; "{}" matches one segment, decoded into params */
};

struct ly_route_match {
    const struct ly_route_key *route; /* method and path match; NULL otherwise */
    const struct ly_route_key *path;  /* the first route whose path matches, whatever the method */
    const char *allow;                /* with route NULL and path set: "GET, POST" for a 405 */
    bool bad_path;                    /* a malformed percent escape in the path: 400 */
};

/*
 * Match method and raw_path (percent-decoded per segment) against n routes
 * laid out every stride bytes from table, each beginning with a struct
 * ly_route_key. params (LY_MAX_PATH_PARAMS) receives the {} segments.
 */
void ly_router_match(struct ly_arena *a, const void *table, size_t n, size_t stride,
                     const char *method, const char *raw_path, const char **params,
                     size_t *n_params, struct ly_route_match *out);

/*
 * The media type check of SPEC §3: 0 JSON ("application/json", charset
 * absent or utf-8), 1 form ("application/x-www-form-urlencoded"), -1 other.
 */
int ly_media_type_classify(const char *content_type);

#endif
