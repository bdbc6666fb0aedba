# api: the application of SPEC §5: the route table and its dispatcher, the handlers, the worker's context
liblanyard_a_SOURCES += src/api/api.c src/api/ctx.c src/api/guard.c src/api/health.c \
	src/api/issue.c src/api/signin.c src/api/token.c src/api/me.c src/api/users.c \
	src/api/policy.c src/api/orgs.c src/api/members.c src/api/accounts.c \
	src/api/keys.c src/api/sessions.c src/api/check.c src/api/introspect.c \
	src/api/audit.c src/api/device.c src/api/sso.c src/api/metrics.c
noinst_HEADERS += include/lanyard/policy.h include/lanyard/guard.h
# SPEC §6: doc/openapi.json, embedded as a C array generated into the build
# tree (never in git), so the worker answers it without reading a file
nodist_liblanyard_a_SOURCES += src/api/openapi-data.c
BUILT_SOURCES += src/api/openapi-data.c
CLEANFILES += src/api/openapi-data.c
EXTRA_DIST += doc/openapi.json
src/api/openapi-data.c: $(srcdir)/doc/openapi.json
	@$(MKDIR_P) src/api
	{ echo '/* generated from doc/openapi.json by src/api/local.mk: do not edit */'; \
	  echo '#include <stddef.h>'; \
	  echo 'extern const char ly_openapi_json[];'; \
	  echo 'extern const size_t ly_openapi_json_len;'; \
	  echo 'const char ly_openapi_json[] = {'; \
	  od -An -v -tx1 $(srcdir)/doc/openapi.json | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0};'; \
	  echo 'const size_t ly_openapi_json_len = sizeof(ly_openapi_json) - 1;'; } > $@.tmp && mv $@.tmp $@
