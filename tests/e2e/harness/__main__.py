"""python3 -m harness {selftest|quickstart} ... (tests/e2e on PYTHONPATH)"""
import sys


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "selftest":
        from . import selftest
        return selftest.main(sys.argv[2:])
    if cmd == "quickstart":
        from . import quickstart
        return quickstart.main(sys.argv[2:])
    sys.stderr.write("usage: python3 -m harness {selftest|quickstart} ...\n")
    return 2


sys.exit(main())
