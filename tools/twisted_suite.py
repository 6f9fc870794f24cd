"""Twisted's own tests on its IOCP reactor with winsock_ov.compat.iocpsupport, against
the compiled twisted_iocpsupport's recorded outcomes.

Run under Windows CPython with the folder ``testbed.twisted`` provisions
(``--twisted DIR``: Twisted, pywin32, the compiled module; added with
``site.addsitedir``); ``python3 tools/winenv.py test --twisted-suite 3.11``
does.  Each module of ``MODULES`` runs in a child per implementation, as
``trial --reactor=iocp`` would run it: the IOCP reactor installed as the global
reactor first, then the module's tests, each outcome recorded
(``unittest_runs``):

* ``compiled``: the reactor on the compiled ``twisted_iocpsupport`` (the reference);
* ``winsock_ov``: ``winsock_ov.compat.iocpsupport.install()`` called first.

The compiled module's outcomes depend only on pinned inputs (Twisted's version
and its companions', the CPython build, Wine's), so they are recorded
(``tools/records/twisted-VERSION.json``, ``outcome_records``); it runs only the
tests winsock_ov's fails that it passed, and ``--record`` runs it on every test
and writes the record again.

A ReactorBuilder module makes one test class per reactor; only the IOCP
reactor's classes (``..._IOCPReactorTests``) and the module's plain tests (on
the global reactor, the IOCP one) run.  Each child checks that the reactor's
``iocpsupport`` is the implementation it was told to use.  The run fails when a
test that passes with the reference does not with winsock_ov's (after the
retries of ``unittest_runs.judge_suspects``), or when winsock_ov's ran a test
the record lacks.
"""

from __future__ import annotations

import argparse
import json
import os
import site
import sys
import time
import unittest
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent)]

import unittest_runs as runs  # noqa: E402

IMPLEMENTATIONS = ("compiled", "winsock_ov")
REFERENCE = "compiled"
LABELS = {"compiled": "compiled twisted_iocpsupport", "winsock_ov": "winsock_ov"}
# Modules of Twisted's own tests that run on the IOCP reactor: its own tests,
# the ReactorBuilder modules whose interfaces it provides, and the modules of
# plain tests of TCP, UDP and TLS on the global reactor.
MODULES = (
    "twisted.internet.test.test_iocp",
    "twisted.internet.test.test_core",
    "twisted.internet.test.test_tcp",
    "twisted.internet.test.test_udp",
    "twisted.internet.test.test_time",
    "twisted.internet.test.test_threads",
    "twisted.internet.test.test_tls",
    "twisted.internet.test.test_newtls",
    "twisted.internet.test.test_socket",
    "twisted.internet.test.test_protocol",
    "twisted.internet.test.test_process",
    "twisted.internet.test.test_endpoints",
    "twisted.test.test_tcp",
    "twisted.test.test_udp",
    "twisted.test.test_loopback",
    "twisted.test.test_ssl",
    "twisted.test.test_sslverify",
)
PER_TEST_SECONDS = 120  # trial's own default timeout is 120 s
TWISTED_DIR = "WINSOCK_OV_TWISTED"  # the children find Twisted's folder here


def install_reactor(impl: str) -> None:
    """The IOCP reactor as the global reactor, on ``impl``'s iocpsupport."""
    site.addsitedir(os.environ[TWISTED_DIR])
    if impl == "winsock_ov":
        from winsock_ov.compat import iocpsupport

        iocpsupport.install()
        expected: Any = iocpsupport
    else:
        import twisted_iocpsupport.iocpsupport as expected  # type: ignore[import-not-found]
    from twisted.internet import iocpreactor
    from twisted.internet.iocpreactor import iocpsupport as used

    if used.CompletionPort is not expected.CompletionPort:
        raise SystemExit(f"the reactor's iocpsupport is {used.CompletionPort.__module__}, "
                         f"not {expected.__name__}")
    iocpreactor.install()


def other_reactors_classes() -> tuple[str, ...]:
    """The endings of the class names ReactorBuilder makes for every reactor but IOCP's."""
    from twisted.internet.test.reactormixins import ReactorBuilder

    names = [reactor.split(".")[-1] for reactor in ReactorBuilder._reactors]
    return tuple(f"_{name}Tests" for name in names if name != "IOCPReactor")


def on_iocp(tests: list[unittest.TestCase], module: str,
            others: tuple[str, ...]) -> list[unittest.TestCase]:
    """The tests ``trial --reactor=iocp MODULE`` runs on the IOCP reactor: those of the
    module's own classes (unittest's loader also collects the TestCase classes a
    module imports), less the other reactors' ReactorBuilder classes."""
    return [test for test in tests if type(test).__module__ == module
            and not type(test).__name__.endswith(others)]


def run_child(args: argparse.Namespace) -> int:
    install_reactor(args.impl)
    others = other_reactors_classes()
    names = args.only or [args.module]
    loaded = runs.flatten(unittest.defaultTestLoader.loadTestsFromNames(names))
    tests = on_iocp(loaded, args.module, others)
    runner = runs.RecordingRunner(args, lambda: None, stream=sys.stderr, verbosity=0)
    runner.run(unittest.TestSuite(tests))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--twisted", help="the folder testbed.twisted provisions")
    parser.add_argument("--json", default="twisted-suite.json")
    parser.add_argument("--work", default=None, help="scratch folder (default: next to --json)")
    parser.add_argument("--modules", nargs="*", help="default: MODULES")
    parser.add_argument("--path", action="append", default=[],
                        help="a folder put first on the children's path (repeatable): "
                        "test modules of your own, or another winsock_ov")
    runs.add_record_arguments(parser)
    runs.add_child_arguments(parser, IMPLEMENTATIONS, PER_TEST_SECONDS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)
    if not (args.twisted and args.record_file and args.expected):
        parser.error("--twisted, --record-file and --expected are required")
    if args.record and args.modules:
        parser.error("--record records the whole suite: not with --modules")
    return runs.run_against_record(args, run_suite)


def per_module_passes(suite: runs.Suite, modules: list[str]) -> dict[str, dict[str, int]]:
    """Each module's tests (with either implementation) and passes with each."""
    table = {}
    for module in modules:
        of_module = {impl: suite.by_module[impl].get(module, {}) for impl in IMPLEMENTATIONS}
        table[module] = {"tests": len(set().union(*of_module.values())),
                         **{impl: runs.passes(of_module[impl]) for impl in IMPLEMENTATIONS}}
    return table


def run_suite(args: argparse.Namespace) -> int:
    os.environ[TWISTED_DIR] = args.twisted
    site.addsitedir(args.twisted)
    import twisted

    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    work = Path(args.work or Path(args.json).parent / f"twisted-work-{version}")
    work.mkdir(parents=True, exist_ok=True)
    modules = args.modules or list(MODULES)
    suite = runs.Suite(Path(__file__), args.path, work, PER_TEST_SECONDS)
    started = time.monotonic()
    print(f"Twisted {twisted.__version__} on CPython {sys.version.split()[0]}, IOCP reactor: "
          f"{len(modules)} modules", flush=True)
    outcomes = runs.outcomes_against_record(suite, "twisted", args, modules, LABELS, REFERENCE)
    unrecorded = runs.unrecorded(outcomes, REFERENCE)
    verdicts = runs.judge_suspects(suite, outcomes, "winsock_ov", REFERENCE, modules)
    per_module = per_module_passes(suite, modules)
    counts = {impl: runs.count_outcomes(outcomes[impl]) for impl in IMPLEMENTATIONS}
    only_ours = sorted(t for t, o in outcomes["winsock_ov"].items()
                       if o == "pass" and outcomes[REFERENCE].get(t) != "pass")
    report = runs.verdict_report(verdicts, recorded_now=args.record, unrecorded=unrecorded)
    elapsed = time.monotonic() - started

    width = max(map(len, modules)) + 1
    print(f"\nTwisted's tests on the IOCP reactor ({len(modules)} modules) in {elapsed:.0f} s")
    runs.print_record_state("compiled module", args.record, args.record_file,
                            report["reference_runs"], unrecorded)
    print(f"  {'module':<{width}} {'tests':>6} " + " ".join(f"{impl:>11}"
                                                         for impl in IMPLEMENTATIONS))
    for module, row in per_module.items():
        print(f"  {module:<{width}} {row['tests']:>6} "
              + " ".join(f"{row[impl]:>11}" for impl in IMPLEMENTATIONS))
    for impl in IMPLEMENTATIONS:
        print(f"  {LABELS[impl]:<30} " + ", ".join(f"{n} {k}" for k, n in counts[impl].items()))
    runs.print_one_against_reference(verdicts, only_ours, outcomes[REFERENCE],
                                     ours="with winsock_ov",
                                     reference="with the compiled module", short="compiled")
    Path(args.json).write_text(json.dumps({
        "python": version, "twisted": twisted.__version__, "modules": len(modules),
        "seconds": round(elapsed), "counts": counts, "per_module": per_module,
        "only_ours": only_ours,
        "outcomes": outcomes, **report,
    }, indent=1))
    return 1 if report["differences"] or unrecorded else 0


if __name__ == "__main__":
    sys.exit(main())
