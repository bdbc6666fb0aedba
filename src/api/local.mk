# api: the application of SPEC §5: the route table and its dispatcher, the handlers, the worker's context
liblanyard_a_SOURCES += src/api/api.c src/api/ctx.c src/api/guard.c src/api/health.c \
	src/api/issue.c src/api/signin.c src/api/token.c src/api/me.c src/api/users.c \
	src/api/policy.c src/api/orgs.c src/api/members.c src/api/accounts.c \
	src/api/keys.c src/api/sessions.c src/api/check.c src/api/introspect.c \
	src/api/audit.c src/api/device.c src/api/sso.c src/api/metrics.c
noinst_HEADERS += include/lanyard/policy.h include/lanyard/guard.h
