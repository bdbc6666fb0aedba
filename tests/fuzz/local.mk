# fuzz targets: replayed over their corpus by make check (standalone.c); libFuzzer build: tests/fuzz/build.sh
