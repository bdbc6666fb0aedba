liblanyard_a_SOURCES += src/api/health.c src/api/auth.c src/api/issue.c src/api/signin.c src/api/token.c src/api/me.c src/api/users.c
liblanyard_a_SOURCES += src/api/policy.c src/api/orgs.c src/api/members.c
noinst_HEADERS += include/lanyard/policy.h
