# bench/: speed against the bare FastCGI floor (bench/README.md). The floor
# is built with everything else but never installed; bench/run.py runs it.
noinst_PROGRAMS = bench/fcgi_floor
bench_fcgi_floor_SOURCES = bench/fcgi_floor.c
bench_fcgi_floor_LDADD = $(FCGI_LIBS)
EXTRA_DIST += bench/local.mk bench/run.py bench/README.md

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
