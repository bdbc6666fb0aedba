#include "build-config.h"
#include "banned.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "lanyard/arena.h"
#include "lanyard/login.h"

/* The key of a credentials-file entry: one per service, however --url was typed. */
struct norm_case {
    const char *in;
    const char *out; /* NULL: refused */
};

static const struct norm_case norm_cases[] = {
    {"https://id.example.com", "https://id.example.com"},
    {"https://id.example.com/", "https://id.example.com"},
    {"https://id.example.com///", "https://id.example.com"},
    {"HTTPS://ID.Example.COM/", "https://id.example.com"},
    {"https://id.example.com:8443/Lanyard/", "https://id.example.com:8443/Lanyard"},
    {"http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
    {"http://[::1]:8080", "http://[::1]:8080"},
    {"https://id.example.com/?x=1", NULL},
    {"https://id.example.com/#top", NULL},
    {"https://user@id.example.com/", NULL},
    {"https://user:pw@id.example.com", NULL},
    {"https://", NULL},
    {"https:///path", NULL},
    {"ftp://id.example.com", NULL},
    {"id.example.com", NULL},
    {"https://id.example.com/a b", NULL},
    {"https://id.example.com\\@evil.com", NULL},
    {"", NULL},
};

static void test_normalize_url(void **state)
{
    struct ly_arena a;
    (void)state;

    ly_arena_init(&a, 1024);
    for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
        const struct norm_case *c = &norm_cases[i];
        const char *got = ly_login_normalize_url(&a, c->in);
        if (c->out == NULL)
            CHECK(c->in, got == NULL);
        else
            CHECK(c->in, got != NULL && strcmp(got, c->out) == 0);
    }
    ly_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
