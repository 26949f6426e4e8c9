"""hil.board.deploy against a fake mpremote transport: unchanged files are skipped by hash, and a
board that cannot take the code is classified (too large / missing module), never passed."""

from __future__ import annotations

import hashlib

import pytest
from mpremote.transport import TransportError, TransportExecError

from hil.board.deploy import deploy, firmware_files
from hil.board.errors import CannotTakeCode, DeployError


class FakeBoard:
    """The subset of mpremote's Transport that deploy uses, over an in-memory filesystem."""

    def __init__(self, files: dict[str, bytes] | None = None, import_error: str = "",
                 hashlib_on_board: bool = True, fail_write: bool = False) -> None:
        self.fs = dict(files or {})
        self.dirs: set[str] = set()
        self.import_error = import_error
        self.hashlib_on_board = hashlib_on_board
        self.fail_write = fail_write
        self.writes: list[str] = []
        self.raw = False

    def enter_raw_repl(self, soft_reset: bool = True) -> None:
        self.raw = True

    def exit_raw_repl(self) -> None:
        self.raw = False

    def fs_exists(self, p: str) -> bool:
        return p in self.fs or p in self.dirs

    def fs_mkdir(self, p: str) -> None:
        self.dirs.add(p)

    def fs_hashfile(self, p: str, algo: str) -> bytes:
        return hashlib.new(algo, self.fs[p]).digest()

    def fs_writefile(self, p: str, data: bytes) -> None:
        if self.fail_write:
            raise TransportError("could not enter raw repl")
        self.writes.append(p)
        self.fs[p] = data

    def exec(self, code: str) -> bytes:
        if code.startswith("import ") and self.import_error:
            raise TransportExecError(1, "Traceback (most recent call last):\n"
                                        f'  File "<stdin>", line 1\n{self.import_error}\n')
        return b""


FILES = firmware_files({"files": "firmware_model", "main": "firmware_model/main.py"})


def test_first_deploy_writes_everything_then_nothing_changes() -> None:
    b = FakeBoard()
    rep = deploy(b, FILES)
    assert sorted(rep.written) == sorted(FILES) and rep.unchanged == []
    assert "firmware_model" in b.dirs and "main.py" in b.fs
    assert rep.firmware_hash.startswith("sha256:")
    rep2 = deploy(b, FILES)
    assert rep2.written == [] and sorted(rep2.unchanged) == sorted(FILES)


def test_only_the_changed_file_is_written() -> None:
    b = FakeBoard()
    deploy(b, FILES)
    b.writes.clear()
    b.fs["firmware_model/limiter.py"] += b"# edited on the board\n"
    rep = deploy(b, FILES)
    assert rep.written == ["firmware_model/limiter.py"] == b.writes


@pytest.mark.parametrize("err,reason", [
    ("MemoryError: memory allocation failed, allocating 1024 bytes", "too large"),
    ("ImportError: no module named 'hashlib'", "missing module"),
])
def test_board_that_cannot_take_the_code(err: str, reason: str) -> None:
    with pytest.raises(CannotTakeCode) as ei:
        deploy(FakeBoard(import_error=err), FILES)
    assert ei.value.reason == reason and err.split(":")[0] in str(ei.value)


def test_transfer_failure_is_a_deploy_error_not_too_large() -> None:
    with pytest.raises(DeployError) as ei:
        deploy(FakeBoard(fail_write=True), FILES)
    assert not isinstance(ei.value, CannotTakeCode)
    assert ei.value.reason == "deploy failed"
