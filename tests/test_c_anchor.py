"""The benchmark's C program (tools/anchor/anchor.c): its build (portable) and its loops
(Windows: each style and workload moves the bytes it says, and leaves nothing pending).

Under Wine the DLL comes from tools/winenv.py (WINSOCK_OV_C_ANCHOR), which builds it
for the Windows tiers (testbed.provision.build_c_anchor); every test here runs there.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import load_tool

provision = load_tool("testbed.provision")
testenv = load_tool("testbed.env")
bench = load_tool("bench")

DLL = os.environ.get("WINSOCK_OV_C_ANCHOR")
needs_dll = pytest.mark.skipif(not DLL, reason="the C anchor is built by tools/winenv.py "
                               "(WINSOCK_OV_C_ANCHOR)")
STYLES = list(dict.fromkeys(style for style, _ in bench.C_STYLES.values()))
Pair = tuple[socket.socket, socket.socket]

WSAENOTSOCK = 10038
ERROR_INVALID_HANDLE = 6
ERROR_INVALID_PARAMETER = 87


# --- the build (portable) ------------------------------------------------------------------


class Compiler:
    """Stands in for x86_64-w64-mingw32-gcc (an Env's runner): records each command,
    writes the -o file unless it fails."""

    def __init__(self, returncode: int = 0) -> None:
        self.commands: list[list[str]] = []
        self.returncode = returncode

    def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(list(command))
        if self.returncode == 0:
            Path(command[command.index("-o") + 1]).write_bytes(b"MZ")
        return subprocess.CompletedProcess(command, self.returncode, "anchor.c:1: error")


def anchor_env(tmp_path: Path, compiler: Compiler) -> Any:
    (tmp_path / "tools" / "anchor").mkdir(parents=True, exist_ok=True)
    return testenv.Env(cache=tmp_path / "cache", repo=tmp_path, runner=compiler,
                       out=lambda line: None)


def test_the_dll_is_built_once_and_again_when_the_source_changes(tmp_path: Path) -> None:
    compiler = Compiler()
    env = anchor_env(tmp_path, compiler)
    env.c_anchor_source.write_text("int x;\n")
    dll = provision.build_c_anchor(env)
    assert dll == tmp_path / "cache" / "anchor" / "anchor.dll" and dll.is_file()
    assert provision.build_c_anchor(env) == dll
    assert len(compiler.commands) == 1
    env.c_anchor_source.write_text("int y;\n")
    provision.build_c_anchor(env)
    assert len(compiler.commands) == 2


def test_a_failed_build_says_the_compilers_output_and_is_tried_again(tmp_path: Path) -> None:
    env = anchor_env(tmp_path, Compiler(returncode=1))
    env.c_anchor_source.write_text("oops\n")
    with pytest.raises(testenv.StepError, match=r"anchor\.c:1: error"):
        provision.build_c_anchor(env)
    env.runner = compiler = Compiler()
    provision.build_c_anchor(env)
    assert len(compiler.commands) == 1  # no stamp was left by the failure


def test_the_dll_is_a_mingw_w64_build_with_warnings_as_errors(tmp_path: Path) -> None:
    compiler = Compiler()
    env = anchor_env(tmp_path, compiler)
    env.c_anchor_source.write_text("int x;\n")
    provision.build_c_anchor(env)
    [command] = compiler.commands
    assert command[0] == "x86_64-w64-mingw32-gcc"
    assert {"-shared", "-Werror", "-Wall", "-O2", "-static-libgcc"} <= set(command)
    assert command[-1] == "-lws2_32"


def test_bench_names_the_styles_the_c_program_has() -> None:
    text = (Path(__file__).resolve().parent.parent / "tools" / "anchor" / "anchor.c").read_text()
    names = re.search(r"style_names\[STYLES\] = \{([^}]*)\}", text)
    assert names is not None
    assert sorted(re.findall(r'"([^"]+)"', names.group(1))) == sorted(STYLES)


# --- the loops (Windows) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def program() -> Any:
    assert DLL
    return bench.CProgram(DLL)


def assert_fresh(pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    """Nothing the loop started is left on the sockets: a new byte each way arrives."""
    for client, server in pairs:
        for sender, receiver in ((client, server), (server, client)):
            sender.sendall(b"z")
            receiver.settimeout(bench.WAIT)
            assert receiver.recv(16) == b"z"


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """One connected TCP pair (client, server), closed after the test."""
    (client, server), = bench.socket_pairs(1)
    with client, server:
        yield client, server


@pytest.mark.windows
@needs_dll
@pytest.mark.parametrize("style", STYLES)
def test_ping_pong_moves_one_byte_each_way_per_trip(program: Any, style: str, pair: Pair) -> None:
    client, server = pair
    moved = program.ping_pong(style, client.fileno(), server.fileno(), 25)
    assert (moved.operations, moved.bytes_sent, moved.bytes_received) == (100, 50, 50)
    assert_fresh([pair])


@pytest.mark.windows
@needs_dll
@pytest.mark.parametrize("style", STYLES)
def test_bulk_moves_every_chunk(program: Any, style: str, pair: Pair) -> None:
    client, server = pair
    moved = program.bulk(style, client.fileno(), server.fileno(), 12)
    assert moved.bytes_sent == moved.bytes_received == 12 * bench.CHUNK
    assert moved.operations >= 12 + 12  # the sends, and at least one receive per chunk
    assert_fresh([pair])


@pytest.mark.windows
@needs_dll
@pytest.mark.parametrize("style", STYLES)
def test_echo_sends_and_receives_each_message_twice(program: Any, style: str) -> None:
    # 70 connections: the event styles wait on the oldest 64 of 140 operations in flight.
    pairs = bench.socket_pairs(70)
    with contextlib.ExitStack() as stack:
        for client, server in pairs:
            stack.enter_context(client)
            stack.enter_context(server)
        moved = program.echo(style, [(c.fileno(), s.fileno()) for c, s in pairs], 3)
        assert moved.operations == 4 * 70 * 3
        assert moved.bytes_sent == moved.bytes_received == 2 * 70 * 3 * 64
        assert_fresh(pairs)


@pytest.mark.windows
@needs_dll
@pytest.mark.parametrize("style", STYLES)
def test_zero_messages_start_nothing(program: Any, style: str, pair: Pair) -> None:
    client, server = pair
    moved = program.ping_pong(style, client.fileno(), server.fileno(), 0)
    assert (moved.operations, moved.bytes_sent, moved.bytes_received) == (0, 0, 0)


@pytest.mark.windows
@needs_dll
def test_an_unknown_style_or_count_is_refused(program: Any, pair: Pair) -> None:
    with pytest.raises(ValueError, match="no style 'carrier pigeon'"):
        program.style("carrier pigeon")
    client, server = pair
    moved = bench.AnchorStats()
    assert program.dll.anchor_ping_pong(len(STYLES), client.fileno(), server.fileno(), 1,
                                         moved) == ERROR_INVALID_PARAMETER
    with pytest.raises(OSError) as raised:
        program.ping_pong("port", client.fileno(), server.fileno(), -1)
    assert raised.value.winerror == ERROR_INVALID_PARAMETER
    assert_fresh([pair])


@pytest.mark.windows
@needs_dll
@pytest.mark.parametrize("style", STYLES)
def test_a_handle_that_is_no_socket_is_an_error_with_its_code(program: Any, style: str) -> None:
    # An event's handle, open throughout: a closed socket's value could be reused by the
    # loop's own event or port before the C program uses it.
    import winsock_ov

    with winsock_ov.Event() as event:
        with pytest.raises(OSError) as raised:
            program.ping_pong(style, event.handle, event.handle, 1)
    # The port style fails tying the handle to its port (MSDN names no code: Wine answers
    # ERROR_INVALID_HANDLE), the others submitting on it (WSAENOTSOCK).
    assert raised.value.winerror == (ERROR_INVALID_HANDLE if style == "port" else WSAENOTSOCK)
