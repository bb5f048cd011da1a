"""ctest's runner for one integration test file: `python3 run_module.py test_gateway`.
Unlike `python3 -m unittest` (Debian 12's Python 3.11 exits 0 when nothing ran), it fails
when the file ran no test or skipped one: a test that skips itself proves nothing."""

import sys
import unittest


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: run_module.py <test module>")
    suite = unittest.defaultTestLoader.loadTestsFromName(sys.argv[1])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if result.testsRun == 0:
        sys.exit(f"{sys.argv[1]}: no test ran")
    if result.skipped:
        sys.exit(f"{sys.argv[1]}: skipped {len(result.skipped)}: " +
                 "; ".join(f"{test.id()}: {reason}" for test, reason in result.skipped))
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
