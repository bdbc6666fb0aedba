# cmocka unit tests of the pure modules; each links liblanyard.a.
EXTRA_DIST += tests/unit/check.h
if HAVE_CMOCKA
UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
UNIT_LDADD = $(LY_LIBS) $(CMOCKA_LIBS)

# --- core, json, http (router) ---
check_PROGRAMS += tests/unit/test_core
TESTS += tests/unit/test_core
tests_unit_test_core_SOURCES = tests/unit/test_core.c
tests_unit_test_core_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_core_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/test_metrics
TESTS += tests/unit/test_metrics
tests_unit_test_metrics_SOURCES = tests/unit/test_metrics.c
tests_unit_test_metrics_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_metrics_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/test_http
TESTS += tests/unit/test_http
tests_unit_test_http_SOURCES = tests/unit/test_http.c
tests_unit_test_http_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_http_LDADD = $(UNIT_LDADD)

# --- codec, crypto, token ---
check_PROGRAMS += tests/unit/test_codec
TESTS += tests/unit/test_codec
tests_unit_test_codec_SOURCES = tests/unit/test_codec.c
tests_unit_test_codec_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_codec_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/test_password
TESTS += tests/unit/test_password
tests_unit_test_password_SOURCES = tests/unit/test_password.c
tests_unit_test_password_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_password_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/test_token
TESTS += tests/unit/test_token
tests_unit_test_token_SOURCES = tests/unit/test_token.c
tests_unit_test_token_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_token_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/test_jwt
TESTS += tests/unit/test_jwt
tests_unit_test_jwt_SOURCES = tests/unit/test_jwt.c
tests_unit_test_jwt_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_jwt_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/test_oidc
TESTS += tests/unit/test_oidc
tests_unit_test_oidc_SOURCES = tests/unit/test_oidc.c
tests_unit_test_oidc_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_oidc_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/test_seal
TESTS += tests/unit/test_seal
tests_unit_test_seal_SOURCES = tests/unit/test_seal.c
tests_unit_test_seal_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_seal_LDADD = $(UNIT_LDADD)

# --- config ---
check_PROGRAMS += tests/unit/test_config
TESTS += tests/unit/test_config
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(UNIT_CFLAGS) -DLY_TEST_SRCDIR='"$(abs_top_srcdir)"'
tests_unit_test_config_LDADD = $(UNIT_LDADD)

# --- authentication layer ---
check_PROGRAMS += tests/unit/test_auth
TESTS += tests/unit/test_auth
tests_unit_test_auth_SOURCES = tests/unit/test_auth.c
tests_unit_test_auth_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_auth_LDADD = $(UNIT_LDADD)

# --- unit of work ---
check_PROGRAMS += tests/unit/test_unit_of_work
TESTS += tests/unit/test_unit_of_work
tests_unit_test_unit_of_work_SOURCES = tests/unit/test_unit_of_work.c
tests_unit_test_unit_of_work_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_unit_of_work_LDADD = $(UNIT_LDADD)

# --- policy ---
check_PROGRAMS += tests/unit/test_policy
TESTS += tests/unit/test_policy
tests_unit_test_policy_SOURCES = tests/unit/test_policy.c
tests_unit_test_policy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_policy_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/test_gate
TESTS += tests/unit/test_gate
tests_unit_test_gate_SOURCES = tests/unit/test_gate.c
tests_unit_test_gate_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_gate_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/test_purge
TESTS += tests/unit/test_purge
tests_unit_test_purge_SOURCES = tests/unit/test_purge.c
tests_unit_test_purge_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_purge_LDADD = $(UNIT_LDADD)

# --- API key lifetimes ---
check_PROGRAMS += tests/unit/test_apikeys
TESTS += tests/unit/test_apikeys
tests_unit_test_apikeys_SOURCES = tests/unit/test_apikeys.c
tests_unit_test_apikeys_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_apikeys_LDADD = $(UNIT_LDADD)

# --- device login user codes ---
check_PROGRAMS += tests/unit/test_devices
TESTS += tests/unit/test_devices
tests_unit_test_devices_SOURCES = tests/unit/test_devices.c
tests_unit_test_devices_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_devices_LDADD = $(UNIT_LDADD)

# --- outbound HTTP client, lanyard-login (their rules; round trips: tests/e2e/test_login.py) ---
check_PROGRAMS += tests/unit/test_httpc
TESTS += tests/unit/test_httpc
tests_unit_test_httpc_SOURCES = tests/unit/test_httpc.c
tests_unit_test_httpc_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_httpc_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/test_login
TESTS += tests/unit/test_login
tests_unit_test_login_SOURCES = tests/unit/test_login.c
tests_unit_test_login_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_login_LDADD = $(UNIT_LDADD)

endif
