"""``python -m winsock_ov``: the seed's lines, and talking to the seed's C programs.

The C programs (tools/seed/*.c) are built by tools/winenv.py, which passes their
folder as WINSOCK_OV_SEED_BIN; under Wine every one of these tests runs.
"""

from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import CHILD_SECONDS, free_port, spawn, tcp_listening_ports

import winsock_ov
from winsock_ov.cli import NOT_WINDOWS, main, parse_args
from winsock_ov.demo import run_demo

SEED_BIN = os.environ.get("WINSOCK_OV_SEED_BIN")
needs_seed = pytest.mark.skipif(not SEED_BIN, reason="the seed's C programs are built by "
                                "tools/winenv.py (WINSOCK_OV_SEED_BIN)")
windows = pytest.mark.windows
MESSAGE = "Received message : Network is Computer "


def python_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "winsock_ov", *args]


def seed_program(name: str, *args: str) -> list[str]:
    assert SEED_BIN
    return [str(Path(SEED_BIN) / f"{name}.exe"), *args]


def describe(proc: subprocess.Popen[str], out: str, err: str) -> str:
    """What a program under test did: for a failing test's message."""
    return (f"{Path(proc.args[0]).name} {' '.join(proc.args[1:])} exited {proc.returncode}; "
            f"stdout {out!r}; stderr {err!r}")


def finish(proc: subprocess.Popen[str]) -> tuple[int, list[str], str]:
    try:
        out, err = proc.communicate(timeout=CHILD_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running after {CHILD_SECONDS} s, killed: {describe(proc, out, err)}")
    return proc.returncode, out.splitlines(), err


def wait_until_listening(port: int, receiver: subprocess.Popen[str]) -> None:
    """Until ``receiver`` listens on ``port``, as the system's TCP table shows.

    The seed's receivers print nothing before accept(), so the port is what
    there is to watch.  (Probing it by binding it ourselves, as this did once,
    makes the receiver's own bind() fail whenever the probe holds the port at
    that moment.)  A receiver that exits first fails the test at once.
    """
    deadline = time.monotonic() + CHILD_SECONDS
    while time.monotonic() < deadline:
        if receiver.poll() is not None:
            out, err = receiver.communicate()
            pytest.fail(f"the receiver exited before listening on {port}: "
                        f"{describe(receiver, out, err)}")
        if port in tcp_listening_ports():
            return
        time.sleep(0.02)  # another process's listen(): nothing to wait on
    receiver.kill()
    out, err = receiver.communicate()
    pytest.fail(f"nobody listened on port {port} in {CHILD_SECONDS} s: "
                f"{describe(receiver, out, err)}")


def run_pair(receiver: list[str], sender_for_port: Any, port: int) -> tuple[list[str], list[str]]:
    """Start the receiver, then, once it listens, the sender.

    Any failure says what both programs printed and how they exited.
    """
    recv_proc = spawn(receiver)
    try:
        wait_until_listening(port, recv_proc)
        send_proc = spawn(sender_for_port(port))
        code, sent, err = finish(send_proc)
        sender_said = describe(send_proc, "\n".join(sent), err)
        if (code, err) != (0, ""):
            recv_proc.kill()
            pytest.fail(f"sender: {sender_said}; receiver: "
                        f"{describe(recv_proc, *recv_proc.communicate())}")
        code, received, err = finish(recv_proc)
        receiver_said = describe(recv_proc, "\n".join(received), err)
        assert (code, err) == (0, ""), f"receiver: {receiver_said}; sender: {sender_said}"
    finally:
        if recv_proc.poll() is None:
            recv_proc.kill()
            recv_proc.communicate()
    return sent, received


@windows
@needs_seed
def test_python_sender_talks_to_the_c_event_receiver() -> None:
    port = free_port()
    sent, received = run_pair(seed_program("OverlappedRecv_win", str(port)),
                              lambda p: python_cli("send", "127.0.0.1", str(p)), port)
    assert sent == ["Send data size : 20 "]
    assert received[-1:] == [MESSAGE]
    assert set(received[:-1]) <= {"Background data receive"}


@windows
@needs_seed
def test_python_routine_sender_talks_to_the_c_routine_receiver() -> None:
    port = free_port()
    sent, received = run_pair(
        seed_program("CmplRoutinesRecv_win", str(port)),
        lambda p: python_cli("send", "127.0.0.1", str(p), "--notify", "routine"), port)
    assert sent == ["Send data size : 20 "]
    assert received[-2:] == [MESSAGE, "Overlapped I/O Completed"]


@windows
@needs_seed
@pytest.mark.parametrize("notify", ["event", "routine"])
def test_c_sender_talks_to_the_python_receiver(notify: str) -> None:
    port = free_port()
    sent, received = run_pair(python_cli("recv", str(port), "--notify", notify),
                              lambda p: seed_program("OverlappedSend_win", "127.0.0.1", str(p)),
                              port)
    assert sent == ["Send data size : 20 "]
    expected = [MESSAGE] if notify == "event" else [MESSAGE, "Overlapped I/O Completed"]
    assert received[-len(expected):] == expected
    assert set(received[:-len(expected)]) <= {"Background data receive"}


@windows
def test_python_sender_and_receiver_carry_a_custom_message() -> None:
    port = free_port()
    sent, received = run_pair(python_cli("recv", str(port), "--host", "127.0.0.1"),
                              lambda p: python_cli("send", "127.0.0.1", str(p), "--message",
                                                   "hello, seed"), port)
    assert sent == ["Send data size : 12 "]
    assert received[-1] == "Received message : hello, seed "


@windows
def test_send_to_a_closed_port_prints_one_line_and_exits_1() -> None:
    code, out, err = finish(spawn(python_cli("send", "127.0.0.1", str(free_port()))))
    assert code == 1
    assert out == []
    assert len(err.splitlines()) == 1 and err.startswith("connect() error!")


@windows
def test_recv_on_a_port_in_use_prints_one_line_and_exits_1() -> None:
    with socket.socket() as holder:
        if sys.platform == "win32":
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        holder.bind(("0.0.0.0", 0))
        port = holder.getsockname()[1]
        code, _, err = finish(spawn(python_cli("recv", str(port))))
    assert code == 1
    assert len(err.splitlines()) == 1 and err.startswith("bind() error!")


@windows
def test_demo_runs_every_style_and_case_as_the_seed_describes() -> None:
    lines: list[bytes] = []
    assert run_demo(lines.append) == 0
    assert lines[-1] == b"18 of 18 cases behaved as the seed describes"
    assert lines.count(b"[recv] Overlapped I/O Completed") == 6
    assert lines.count(b"[recv] Background data receive") == 9


def test_arguments_are_checked_before_any_socket_exists(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["send", "127.0.0.1"], ["send", "h", "70000"], ["send", "h", "0"],
                 ["recv", "1", "--notify", "x"], ["recv", "-1"],
                 ["send", "h", "1", "--timeout", "0"], ["recv", "1", "--timeout", "nan"],
                 ["recv", "1", "--timeout", "soon"], []):
        with pytest.raises(SystemExit) as exc:
            parse_args(argv)
        assert exc.value.code == 2, argv
    args = parse_args(["send", "10.0.0.1", "9190"])
    assert (args.message, args.notify, args.timeout) == ("Network is Computer", "event", math.inf)
    assert parse_args(["recv", "0", "--timeout", "2.5"]).timeout == 2.5
    assert parse_args(["echo", "0"]).port == 0


def test_a_bad_port_is_named_in_the_users_words(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["send", "127.0.0.1", "abc"])
    error = capsys.readouterr().err.splitlines()[-1]
    assert error == ("python -m winsock_ov send: error: argument PORT: "
                     "the port must be a number from 1 to 65535, not 'abc'")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"winsock_ov {winsock_ov.__version__}\n"


@pytest.mark.parametrize("command", [[], ["send"], ["recv"], ["demo"], ["echo"]])
def test_help_explains_every_argument_with_its_default(
        command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args([*command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text and "_port" not in text
    # Each argument's entry: its name at two spaces, then its explanation (same or next lines).
    entries = re.split(r"\n  (?=[-A-Z{])", text.split("\n\n", 2)[2])[1:]
    assert entries, text
    for entry in entries:
        name, _, explanation = entry.partition(" ")
        assert explanation.strip(), f"{name} has no help text:\n{text}"
        if name in ("--message", "--notify", "--timeout", "--host"):
            assert "(default: " in entry, f"{name} shows no default:\n{text}"


def test_off_windows_a_command_says_so_in_one_line_and_fails(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["demo"]) == NOT_WINDOWS != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "python -m winsock_ov: needs Windows (Winsock2), not linux\n"


@windows
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_recv_on_port_0_prints_the_port_and_an_ipv4_or_ipv6_sender_reaches_it(host: str) -> None:
    receiver = spawn(python_cli("recv", "0", "--host", host))
    try:
        assert receiver.stdout is not None
        line = receiver.stdout.readline()
        assert line.startswith("Listening on port "), describe(receiver, line, "")
        port = line.split()[-1]
        code, sent, err = finish(spawn(python_cli("send", host, port)))
        assert (code, sent, err) == (0, ["Send data size : 20 "], "")
        code, received, err = finish(receiver)
        assert (code, received[-1:], err) == (0, [MESSAGE], ""), received
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.communicate()


@windows
def test_recv_gives_up_after_its_timeout_in_one_line() -> None:
    code, out, err = finish(spawn(python_cli("recv", "0", "--timeout", "0.3")))
    assert code == 1
    assert out[0].startswith("Listening on port ")
    assert err.splitlines() == [err.strip()] and err.startswith("accept error!")
    assert "no connection within 0.3 s" in err


@windows
def test_send_to_an_unknown_host_prints_one_line_and_exits_1() -> None:
    code, out, err = finish(spawn(python_cli("send", "no.such.host.invalid", "9")))
    assert (code, out) == (1, [])
    assert len(err.splitlines()) == 1 and err.startswith("getaddrinfo() error! no.such.host")
