/*
 * settings: the instance's own secrets kept in the database (table
 * settings, written by `lanyardctl migrate`).
 */
#ifndef LY_SETTINGS_H
#define LY_SETTINGS_H

#include "lanyard/arena.h"

struct ly_db;

#define LY_SETTINGS_PAGE_KEY_LEN 32

/* The page-token key (32 bytes) into key. LY_E_NOT_FOUND when it is missing or malformed. */
int ly_settings_page_key(struct ly_db *db, struct ly_arena *a,
                         unsigned char key[LY_SETTINGS_PAGE_KEY_LEN]);

#endif
