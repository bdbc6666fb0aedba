"""End-to-end test harness for Lanyard: private MariaDB, lighttpd and Apache
servers, started on free 127.0.0.1 ports, waited for, stopped by PID.

Standard library only, so that tools/quickstart.sh can use it too
(`python3 -m harness quickstart`, with tests/e2e on PYTHONPATH)."""
