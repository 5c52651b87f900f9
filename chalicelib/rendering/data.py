"""The contract as templates see it: read-only records that know their path.

``wrap_contract`` turns the canonical contract mapping into ``Record`` / ``RecordList`` nodes:

- a field reads the same as attribute or item (``contract.items`` is the items list, not
  ``dict.items``, a classic Jinja trap with plain dicts);
- every node knows its dotted path (``contract.payment.milestones[1]``), so a missing required
  field fails with "missing field contract.delivery.place" instead of "'dict object' has no
  attribute 'place'";
- strings are defused against DocuSign anchor injection (``anchors.defuse_anchors``); nothing
  else about them changes: escaping is the template engine's job (autoescape).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from chalicelib.rendering.anchors import defuse_anchors


class MissingField(KeyError):
    """A field absent from the contract, named by its dotted path."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path

    def __str__(self) -> str:
        return f"missing field {self.path}"


class Record:
    """A read-only mapping node of the contract. Fields are attributes and items."""

    __slots__ = ("_data", "_path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self._path = path
        # A text's path is never asked for: only records and lists get one (and pay for building it).
        self._data = {str(key): defuse_anchors(value) if type(value) is str else _wrap(value, f"{path}.{key}")
                      for key, value in data.items()}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise MissingField(f"{self._path}.{key}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __repr__(self) -> str:
        return f"<Record {self._path}>"


class RecordList(list[Any]):
    """A list node of the contract; the sandbox refuses its mutating methods."""

    __slots__ = ("_path",)

    def __init__(self, values: list[Any], path: str) -> None:
        super().__init__(defuse_anchors(value) if type(value) is str else _wrap(value, f"{path}[{index}]")
                         for index, value in enumerate(values))
        self._path = path


def path_of(node: object) -> str | None:
    """The dotted path of a Record or RecordList, None for anything else."""
    if isinstance(node, Record | RecordList):
        return node._path
    return None


def _wrap(value: Any, path: str) -> Any:
    if isinstance(value, str):
        return defuse_anchors(value)
    if isinstance(value, Mapping):
        return Record(value, path)
    if isinstance(value, list | tuple):
        return RecordList(list(value), path)
    return value


def wrap_contract(contract: Mapping[str, Any]) -> Record:
    """The contract mapping as the ``contract`` template variable."""
    return Record(contract, "contract")
