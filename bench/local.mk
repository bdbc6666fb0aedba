# bench/: speed against the floors (bench/README.md). The floors are built
# with everything else but never installed; bench/run.py runs them. Each is
# bench/floor.c's FastCGI loop plus the one piece of work its rows cannot
# avoid: nothing (fcgi_floor), one primary-key SELECT (sql_floor), one JWT
# signature check (jwt_floor).
noinst_PROGRAMS = bench/fcgi_floor bench/sql_floor bench/jwt_floor
bench_fcgi_floor_SOURCES = bench/floor.c bench/floor.h bench/fcgi_floor.c
bench_fcgi_floor_LDADD = $(FCGI_LIBS)
bench_sql_floor_SOURCES = bench/floor.c bench/floor.h bench/sql_floor.c
bench_sql_floor_LDADD = $(FCGI_LIBS) $(MARIADB_LIBS)
bench_jwt_floor_SOURCES = bench/floor.c bench/floor.h bench/jwt_floor.c
# jwt_floor takes ly_base64url_decode from liblanyard.a
bench_jwt_floor_LDADD = liblanyard.a $(FCGI_LIBS) $(OPENSSL_LIBS)
EXTRA_DIST += bench/local.mk bench/run.py bench/provenance.py bench/README.md

# check_inproc: in-process requests against a real worker context, for
# callgrind's instruction counts (bench/callgrind.py); built, never installed.
noinst_PROGRAMS += bench/check_inproc
bench_check_inproc_SOURCES = bench/check_inproc.c
bench_check_inproc_LDADD = $(LY_LIBS)
EXTRA_DIST += bench/callgrind.py bench/callgrind.sh bench/callgrind-baseline.json

# Instruction counts per credential kind under callgrind (bench/README.md);
# slow under valgrind, so never part of make check.
bench-callgrind: bench/check_inproc lanyard lanyardctl
	$(SHELL) $(abs_top_srcdir)/bench/callgrind.sh --builddir $(abs_top_builddir) $(CALLGRIND_ARGS)
.PHONY: bench-callgrind
