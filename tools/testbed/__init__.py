"""winsock_ov's Windows test bed on Linux: everything ``tools/winenv.py`` does.

Winsock is exercised for real by running the official embeddable Windows CPython
under Wine.  The modules, in the order a run uses them:

* ``pins``: every pinned input (interpreters, wheels, Debian packages);
* ``env``: where things live (``Env``), running commands, named steps, stamps;
* ``provision``: Wine and mingw-w64 from Debian, the Windows interpreters and
  their wheels, the Linux tools' venv, the programs compiled with mingw-w64;
* ``debian``: packages of other Debian releases (CPython's test suites, the
  Python docs' inventory) through an apt configuration private to the cache;
* ``wine``: running a Windows python under Wine, its output streamed;
* ``tiers``: one function per test tier, each returning a ``TierResult``;
* ``schedule``: which tiers a run has, run on parallel workers with their
  own Wine prefixes, their output kept whole, progress and the summary table;
* ``cli``: the command line (``test``, ``demo``, ``run``, ``abi``, ``bench``).
"""
