/*
 * civil: Unix seconds to and from the proleptic Gregorian calendar in UTC,
 * for every second of years 1 to 9999 (SPEC §3: no 2038 limit anywhere).
 * Pure arithmetic: neither the range of time_t nor TZ matters.
 */
#ifndef LY_CIVIL_H
#define LY_CIVIL_H

#include <stdint.h>

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z as Unix seconds. */
#define LY_TIME_MIN (-62135596800LL)
#define LY_TIME_MAX 253402300799LL

struct ly_civil {
    int year;   /* 1..9999 */
    int month;  /* 1..12 */
    int day;    /* 1..31 */
    int hour;   /* 0..23 */
    int minute; /* 0..59 */
    int second; /* 0..59: no leap seconds, as in Unix time */
};

/*
 * The date and time of t. Returns 0, or -1 (*out untouched) when t is
 * outside [LY_TIME_MIN, LY_TIME_MAX].
 */
int ly_time_to_civil(int64_t t, struct ly_civil *out);

/*
 * The Unix seconds of c. Returns 0, or -1 (*out untouched) when a field is
 * out of range or the day does not exist (2023-02-29).
 */
int ly_civil_to_time(const struct ly_civil *c, int64_t *out);

#endif
