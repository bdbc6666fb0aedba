#include "build-config.h"
#include "banned.h"

#include "lanyard/civil.h"

#include <stdbool.h>

/*
 * Days from 1970-01-01, after Howard Hinnant's "chrono-Compatible Low-Level
 * Date Algorithms": the year is shifted to start on 1 March, so that the
 * leap day is the last day of its year, and split into 400-year eras of
 * 146097 days. Years here are 1..9999, so every intermediate is small and
 * non-negative except the result.
 */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = y / 400;                                         /* y >= 0 */
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468; /* days since 0000-03-01, >= 0 from year 1 */
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11], March = 0 */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int ly_time_to_civil(int64_t t, struct ly_civil *out)
{
    if (t < LY_TIME_MIN || t > LY_TIME_MAX)
        return -1;
    /* Floor division: a time before 1970 belongs to the day that starts before it. */
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(secs / 3600);
    out->minute = (int)(secs / 60 % 60);
    out->second = (int)(secs % 60);
    return 0;
}

int ly_civil_to_time(const struct ly_civil *c, int64_t *out)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (c->year < 1 || c->year > 9999 || c->month < 1 || c->month > 12 || c->day < 1 ||
        c->hour < 0 || c->hour > 23 || c->minute < 0 || c->minute > 59 || c->second < 0 ||
        c->second > 59)
        return -1;
    int last = mdays[c->month - 1] + (c->month == 2 && is_leap(c->year));
    if (c->day > last)
        return -1;
    *out = days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 + c->minute * 60 +
           c->second;
    return 0;
}
