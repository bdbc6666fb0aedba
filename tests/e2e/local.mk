# end-to-end tests (pytest against private MariaDB, lighttpd and Apache);
# see tests/e2e/run-e2e.sh and doc/testing.md
TESTS += tests/e2e/run-e2e.sh
AM_TESTS_ENVIRONMENT = LANYARD_BUILDDIR='$(abs_top_builddir)' LANYARD_SRCDIR='$(abs_top_srcdir)'; \
	export LANYARD_BUILDDIR LANYARD_SRCDIR;
# fd 9 reaches the terminal: run-e2e.sh prints the pytest summary line there
AM_TESTS_FD_REDIRECT = 9>&2

# The whole folder goes into the tarball (make distcheck runs the suite from
# it). Automake also copies the build tree's tests/e2e (logs, .work): prune.
EXTRA_DIST += tests/e2e etc/systemd/lanyard.service
EXTRA_DIST += etc/systemd/lanyard-purge.service etc/systemd/lanyard-purge.timer
dist-hook: dist-e2e-prune
dist-e2e-prune:
	rm -rf $(distdir)/tests/e2e/.work $(distdir)/tests/e2e/.pytest_cache $(distdir)/tests/e2e/axe/node_modules $(distdir)/tests/e2e/openapi/node_modules
	find $(distdir)/tests/e2e \( -name __pycache__ -o -name '*.log' -o -name '*.trs' \
	  -o -name .dirstamp -o -name '*.pyc' \) -prune -exec rm -rf {} +

# only the end-to-end suite: make check-e2e [E2E_PYTEST_ARGS="-x -k health"]
check-e2e: all
	LANYARD_BUILDDIR='$(abs_top_builddir)' LANYARD_SRCDIR='$(abs_top_srcdir)' \
	  E2E_PYTEST_ARGS='$(E2E_PYTEST_ARGS)' $(SHELL) $(srcdir)/tests/e2e/run-e2e.sh
# the harness on its own (stub worker, no lanyard needed)
check-e2e-harness:
	cd $(srcdir)/tests/e2e && PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m harness selftest \
	  --builddir '$(abs_top_builddir)' --srcdir '$(abs_top_srcdir)'
clean-local: clean-e2e
clean-e2e:
	-rm -rf tests/e2e/.work tests/e2e/screenshots
# the Galera cluster tests (test_galera.py, doc/testing.md "Galera"): not in
# make check; tests/run-all.sh runs them once, in the plain build tree
check-e2e-galera: all
	LANYARD_BUILDDIR='$(abs_top_builddir)' LANYARD_SRCDIR='$(abs_top_srcdir)' \
	  LANYARD_E2E_GALERA=1 E2E_TESTS=test_galera.py \
	  E2E_PYTEST_ARGS='$(E2E_PYTEST_ARGS)' $(SHELL) $(srcdir)/tests/e2e/run-e2e.sh
.PHONY: check-e2e check-e2e-galera check-e2e-harness clean-e2e dist-e2e-prune
