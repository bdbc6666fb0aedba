/*
 * check.h: the one assertion of the table-driven unit tests: a failing row
 * names itself (desc) and the condition that failed. Include after cmocka.h.
 */
#ifndef LY_TEST_CHECK_H
#define LY_TEST_CHECK_H

#define CHECK(desc, cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("%s: %s", (desc), #cond);                                                     \
    } while (0)

#endif
