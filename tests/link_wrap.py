"""A base for test wrappers around a board adapter (hil.board.BoardAdapter): everything not
overridden goes to the wrapped adapter, and the runner's `console` assignment reaches it too
(it logs every line exchanged). Subclasses override write/read_line to tamper with the link."""

from __future__ import annotations

from typing import Any

from hil.board.adapters import BoardAdapter


class AdapterWrapper:
    def __init__(self, inner: BoardAdapter, **state: Any) -> None:
        # via __dict__: __setattr__ below must not see these before `inner` exists
        self.__dict__["inner"] = inner
        self.__dict__.update(state)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "console":
            self.inner.console = value
        else:
            self.__dict__[name] = value
