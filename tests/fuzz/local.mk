# Fuzz targets (STYLE 18): one tests/fuzz/fuzz_<parser>.c per parser of
# untrusted input. make check builds each with standalone.c and replays its
# committed corpus, tests/fuzz/corpus/<parser>/ (the program's default
# argument, FUZZ_CORPUS); with --enable-sanitizers the replay runs under
# ASan/UBSan. tests/fuzz/build.sh builds the same sources for libFuzzer.
FUZZ_SRCS = tests/fuzz/standalone.c tests/fuzz/fuzz.h
FUZZ_CORPUS_DIR = $(abs_top_srcdir)/tests/fuzz/corpus

check_PROGRAMS += tests/fuzz/fuzz_request
TESTS += tests/fuzz/fuzz_request
tests_fuzz_fuzz_request_SOURCES = tests/fuzz/fuzz_request.c tests/fuzz/ctx.c $(FUZZ_SRCS)
tests_fuzz_fuzz_request_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/request"'
tests_fuzz_fuzz_request_LDADD = $(LY_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_json
TESTS += tests/fuzz/fuzz_json
tests_fuzz_fuzz_json_SOURCES = tests/fuzz/fuzz_json.c $(FUZZ_SRCS)
tests_fuzz_fuzz_json_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/json"'
tests_fuzz_fuzz_json_LDADD = $(LY_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_jwt
TESTS += tests/fuzz/fuzz_jwt
tests_fuzz_fuzz_jwt_SOURCES = tests/fuzz/fuzz_jwt.c $(FUZZ_SRCS)
tests_fuzz_fuzz_jwt_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/jwt"'
tests_fuzz_fuzz_jwt_LDADD = $(LY_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_oidc
TESTS += tests/fuzz/fuzz_oidc
tests_fuzz_fuzz_oidc_SOURCES = tests/fuzz/fuzz_oidc.c $(FUZZ_SRCS)
tests_fuzz_fuzz_oidc_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/oidc"'
tests_fuzz_fuzz_oidc_LDADD = $(LY_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_token
TESTS += tests/fuzz/fuzz_token
tests_fuzz_fuzz_token_SOURCES = tests/fuzz/fuzz_token.c $(FUZZ_SRCS)
tests_fuzz_fuzz_token_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/token"'
tests_fuzz_fuzz_token_LDADD = $(LY_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_codec
TESTS += tests/fuzz/fuzz_codec
tests_fuzz_fuzz_codec_SOURCES = tests/fuzz/fuzz_codec.c $(FUZZ_SRCS)
tests_fuzz_fuzz_codec_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/codec"'
tests_fuzz_fuzz_codec_LDADD = $(LY_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_form
TESTS += tests/fuzz/fuzz_form
tests_fuzz_fuzz_form_SOURCES = tests/fuzz/fuzz_form.c $(FUZZ_SRCS)
tests_fuzz_fuzz_form_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/form"'
tests_fuzz_fuzz_form_LDADD = $(LY_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_auth
TESTS += tests/fuzz/fuzz_auth
tests_fuzz_fuzz_auth_SOURCES = tests/fuzz/fuzz_auth.c tests/fuzz/ctx.c $(FUZZ_SRCS)
tests_fuzz_fuzz_auth_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/auth"'
tests_fuzz_fuzz_auth_LDADD = $(LY_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_config
TESTS += tests/fuzz/fuzz_config
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c $(FUZZ_SRCS)
tests_fuzz_fuzz_config_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/config"'
tests_fuzz_fuzz_config_LDADD = $(LY_LIBS)

# fuzz_live needs a MariaDB: live-check.sh starts the private one of live.sh
# (skipped, 77, when mariadbd is not installed) and replays corpus/live.
check_PROGRAMS += tests/fuzz/fuzz_live
TESTS += tests/fuzz/live-check.sh
tests_fuzz_fuzz_live_SOURCES = tests/fuzz/fuzz_live.c tests/fuzz/ctx.c $(FUZZ_SRCS)
tests_fuzz_fuzz_live_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(FUZZ_CORPUS_DIR)/live"'
tests_fuzz_fuzz_live_LDADD = $(LY_LIBS)

# The corpora go into the tarball whole (make distcheck replays them), with
# the libFuzzer build script, its notes and the dictionaries.
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/dict tests/fuzz/build.sh tests/fuzz/README.md \
	tests/fuzz/live.sh tests/fuzz/live-check.sh tests/fuzz/campaign.sh

# For tests/fuzz/build.sh: the flags and libraries a target links with.
fuzz-print-flags:
	@echo "CPPFLAGS=$(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) $(JSONC_CFLAGS) $(OPENSSL_CFLAGS) $(YAML_CFLAGS) $(MARIADB_CFLAGS) $(CURL_CFLAGS)"
	@echo "LIBS=$(FCGI_LIBS) $(MARIADB_LIBS) $(YAML_LIBS) $(JSONC_LIBS) $(CURL_LIBS) $(OPENSSL_LIBS)"
.PHONY: fuzz-print-flags
# live-check.sh's private MariaDB (datadir, secrets, logs) under the build tree
clean-local: clean-fuzz-live
clean-fuzz-live:
	-rm -rf tests/fuzz/live-out
.PHONY: clean-fuzz-live
