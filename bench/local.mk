# bench/: speed against the bare FastCGI floor (bench/README.md). The floor
# is built with everything else but never installed; bench/run.py runs it.
noinst_PROGRAMS = bench/fcgi_floor
bench_fcgi_floor_SOURCES = bench/fcgi_floor.c
bench_fcgi_floor_LDADD = $(FCGI_LIBS)
EXTRA_DIST += bench/local.mk bench/run.py bench/README.md
