"""Stable 64-bit fingerprints of states, fast enough to take of every generated successor.

A fingerprint is a structural hash of the same canonical structure that `checker.encoding` writes out: an attrs
instance is its class's qualified name and its fields, a tuple or list its elements in order, a set or frozenset
its members in no order, a mapping its (key, value) pairs in no order, a string its UTF-8 bytes, an enum member
its class and name. It is independent of PYTHONHASHSEED and of the order in which a set was built, so the same
state has the same fingerprint in every process (checkpoints and worker processes rely on that). It is not
`encoding.fingerprint` (BLAKE2b over the whole encoded text, which costs tens of microseconds per Kubernetes
state): leaves (strings, classes, big integers) go through BLAKE2b once each and are cached; containers combine
their children's fingerprints arithmetically modulo 2**64 (ordered: a polynomial; unordered: a sum) and pass the
result through SplitMix64's finaliser, so every bit of a child reaches every bit of its parent.

Successive states share most of their parts (a successor changes one component and keeps the others), and most
successors are states met before, so fingerprints of hashable parts are memoised by value (a frozenset caches its
hash; a tuple's is computed in C): the memo is emptied when it grows past `MEMO_LIMIT` entries. Values that
Python deems equal (0, 0.0 and False) therefore have one fingerprint, as they are one key in exact storage. An
attrs field with eq=False is left out, as attrs' equality leaves it out. A class with an equality of its own
(the Kubernetes model's `Informer` leaves its cache out) is fingerprinted on all its fields, and a value that
holds one is memoised by identity only: a memo by value would hand it the fingerprint of another value equal to
it by that rule but different in what the rule leaves out. Such a rule is sound for exact storage only if what
it leaves out is a function of the rest of the state; fingerprints then agree with it on reachable states.

What TLC does instead: its `FP64` is a Rabin fingerprint (an irreducible polynomial over GF(2)) of the value's
canonical serialisation, computed in Java per state. The estimates of a collision's probability are TLC's
(`tlc2.tool.ModelChecker`, `tlc2.tool.fp.FPSet.checkFPs`): `collision_optimistic` and `collision_observed`.
"""

from __future__ import annotations

import enum
import hashlib
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

MASK = (1 << 64) - 1
#: An odd 64-bit multiplier for ordered combination (the golden ratio's, as in SplitMix64).
K = 0x9E3779B97F4A7C15
MEMO_LIMIT = 20_000


def mix(z: int) -> int:
    """SplitMix64's finaliser (Steele, Lea, Flood 2014): a bijection of 64-bit words with full avalanche."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _digest(tag: bytes, data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(tag + data, digest_size=8).digest(), "little")


T_TUPLE, T_SET, T_MAP = _digest(b"L", b""), _digest(b"S", b""), _digest(b"M", b"")
F_NONE = _digest(b"N", b"")


class Fingerprinter:
    """A callable: state -> 64-bit int. One per search (its memo tables live as long as it does)."""

    def __init__(self) -> None:
        #: Fingerprints of pure parts (see `_compute`), by value; of impure ones, by identity (the objects are kept
        #: in `keep` so that an identity is not reused while it is in the memo). Both emptied past MEMO_LIMIT.
        self.memo: dict[Any, int] = {}
        self.by_id: dict[int, int] = {}
        self.keep: list[Any] = []
        self.strings: dict[str, int] = {}
        #: Per class of state: how to get its field tuple (False: look the state itself up).
        self.tops: dict[type, Any] = {}
        #: Per class: (kind, tag, fields, pure): kind 0 a record (`fields(value)` lists its parts), 1 a mapping,
        #: 2 a leaf; pure: its equality is structural (attrs' own, or a container's).
        self.classes: dict[type, tuple[int, int, Callable[[Any], Any] | None, bool]] = {}
        #: Set while computing a value when one of its parts is impure.
        self.impure = False

    def __call__(self, value: Any) -> int:
        """The fingerprint of a state (memoised too: most generated successors are states met recently). A frozen
        attrs state is looked up by its field tuple, hashed and compared in C (`field_key`), when it is pure: a
        pure value is never equal to an impure one (a class with its own equality equals only its own kind), so
        the lookup of an impure state misses, and only pure states are entered."""
        self.impure = False
        t = type(value)
        key_of: Any = self.tops.get(t)
        if key_of is None:
            fk = field_key(t)
            key_of = self.tops[t] = fk[0] if fk is not None else False
        if key_of is False:
            return self.fp(value)
        key = (t, key_of(value))
        memo = self.memo
        f = memo.get(key)
        if f is None:
            f = self._compute(value, False)
            if not self.impure:
                if len(memo) >= MEMO_LIMIT:
                    memo.clear()
                memo[key] = f
        return f

    def fp(self, value: Any) -> int:
        """The fingerprint of a value, memoised."""
        if type(value) is str:
            f = self.strings.get(value)
            return self._string(value) if f is None else f
        f = self.by_id.get(id(value))
        if f is not None:
            self.impure = True
            return f
        try:
            f = self.memo.get(value)
        except TypeError:  # unhashable (a list, a set, a dict): computed each time
            return self._compute(value, False)
        return self._compute(value, True) if f is None else f

    def _string(self, value: str) -> int:
        f = self.strings[value] = _digest(b"s", value.encode("utf-8", "surrogatepass"))
        return f

    def _parts(self, h: int, values: Iterable[Any]) -> int:
        """Ordered combination: h * K + fp(v), for each part v in order (the hot loop: strings inline)."""
        strings, fp = self.strings, self.fp
        for e in values:
            if type(e) is str:
                x = strings.get(e)
                if x is None:
                    x = self._string(e)
            else:
                x = fp(e)
            h = (h * K + x) & MASK
        return h

    def _members(self, values: Iterable[Any]) -> int:
        """Unordered combination: the sum of the members' fingerprints."""
        strings, fp = self.strings, self.fp
        h = 0
        for e in values:
            if type(e) is str:
                x = strings.get(e)
                if x is None:
                    x = self._string(e)
            else:
                x = fp(e)
            h += x
        return h & MASK

    def _compute(self, value: Any, memoise: bool) -> int:
        """A value's fingerprint from its parts'. A value is pure when its equality is structural all the way down
        (containers and attrs' own equality); it is then memoised by value. A class with an equality of its own (one
        that leaves some field out, say) makes every value that holds it impure: such values are memoised by
        identity only, since a memo by value would hand a value the fingerprint of another one that is equal to it
        by that class's rule but differs in the fields the rule leaves out."""
        outer = self.impure
        self.impure = False
        t = type(value)
        if t is tuple or t is list:
            f = mix(self._parts(T_TUPLE, value) ^ len(value))
        elif t is frozenset or t is set:
            f = mix(self._members(value) ^ T_SET ^ len(value))
        else:
            cls = self.classes.get(t)
            if cls is None:
                cls = self.classes[t] = self._describe(t)
            kind, tag, fields, pure = cls
            if not pure:
                self.impure = True
            if fields is not None:
                f = mix(self._parts(tag, fields(value)))
            elif kind == 1:
                fp = self.fp
                h = 0
                for k, v in value.items():
                    h += mix((fp(k) * K + fp(v)) & MASK)
                f = mix((h & MASK) ^ T_MAP ^ len(value))
            else:
                f = self._leaf(value)
        impure = self.impure
        self.impure = outer or impure
        if memoise or impure:
            if impure:
                if len(self.by_id) >= MEMO_LIMIT:
                    self.by_id.clear()
                    self.keep.clear()
                self.by_id[id(value)] = f
                self.keep.append(value)
            else:
                memo = self.memo
                if len(memo) >= MEMO_LIMIT:
                    memo.clear()
                memo[value] = f
        return f

    @staticmethod
    def _describe(t: type) -> tuple[int, int, Callable[[Any], Any] | None, bool]:
        name = f"{t.__module__}.{t.__qualname__}".encode()
        if attrs.has(t):
            fields = attrs.fields(t)
            pure = _attrs_equality(t) and not any(f.eq_key is not None for f in fields)
            # With attrs' own equality a field with eq=False is not part of the value; otherwise every field is.
            names = [f.name for f in fields if f.eq or not pure]
            if not names:
                return 0, _digest(b"R", name), (lambda v: ()), pure
            getter = operator.attrgetter(*names)
            if len(names) == 1:
                return 0, _digest(b"R", name), (lambda v: (getter(v),)), pure
            return 0, _digest(b"R", name), getter, pure
        pure = not _own_equality(t)
        if issubclass(t, (tuple, list)):  # a subclass, a named tuple: its class and its elements
            return 0, _digest(b"R", name), (lambda v: v), pure
        if issubclass(t, (frozenset, set)):
            return 0, _digest(b"S", name), (lambda v: sorted(fp_each(v))), pure
        if issubclass(t, Mapping):
            return 1, T_MAP, None, True
        return 2, _digest(b"C", name), None, True

    @staticmethod
    def _leaf(value: Any) -> int:
        """Values that Python deems equal have one fingerprint, as they are one key in exact storage (the memo is
        by value): False, 0 and 0.0 alike; an IntEnum member is its int, a str subclass's member its string."""
        if value is None:
            return F_NONE
        if isinstance(value, int):  # bool, IntEnum and other int subclasses: as the int
            return _digest(b"i", str(int(value)).encode())
        if isinstance(value, str):
            return _digest(b"s", str(value).encode("utf-8", "surrogatepass"))
        if isinstance(value, enum.Enum):
            return _digest(b"E", f"{type(value).__module__}.{type(value).__qualname__}.{value.name}".encode())
        if isinstance(value, float):
            if value.is_integer():
                return _digest(b"i", str(int(value)).encode())
            return _digest(b"f", repr(value).encode())
        if isinstance(value, bytes):
            return _digest(b"B", value)
        raise TypeError(f"cannot fingerprint a {type(value).__name__}: states must be built of attrs classes, "
                        "tuples, sets, mappings, strings, numbers, enums and None")


def _attrs_equality(cls: type) -> bool:
    """Whether an attrs class's __eq__ is the one attrs generated (over its fields with eq=True)."""
    code = getattr(getattr(cls, "__eq__", None), "__code__", None)
    return code is not None and code.co_filename.startswith("<attrs generated")


def _own_equality(cls: type) -> bool:
    """Whether a class (not an attrs one) defines an __eq__ of its own, below the builtin containers."""
    for klass in cls.__mro__:
        if klass in (tuple, list, frozenset, set, dict, object, int, str, float, bytes, enum.Enum):
            return False
        if "__eq__" in vars(klass):
            return True
    return False


def field_key(cls: type) -> tuple[Callable[[Any], Any], Callable[[Any], Any]] | None:
    """For a frozen attrs class whose equality is attrs' own over init fields: key and rebuild functions (two such
    states are equal exactly when their field tuples are, and a tuple is hashed and compared in C)."""
    if not attrs.has(cls) or not getattr(cls, "__attrs_attrs__", None):
        return None
    eq = getattr(cls, "__eq__", None)
    code = getattr(eq, "__code__", None)
    if code is None or not code.co_filename.startswith("<attrs generated"):
        return None
    fields = attrs.fields(cls)
    if any(not f.eq or f.eq_key is not None or not f.init or f.converter is not None for f in fields):
        return None
    names = [f.name for f in fields]
    aliases = [f.alias for f in fields]
    getter: Callable[[Any], Any] = operator.attrgetter(*names)
    if len(names) == 1:
        single = getter
        getter = lambda state: (single(state),)  # noqa: E731 - attrgetter of one name returns a bare value

    def build(key: tuple[Any, ...]) -> Any:
        return cls(**dict(zip(aliases, key, strict=True)))

    return getter, build


def fp_each(values: Iterable[Any]) -> list[int]:
    """Fingerprints of a subclass of set's members (rare; a fresh fingerprinter keeps it simple and stable)."""
    f = Fingerprinter()
    return [f(v) for v in values]


def collision_optimistic(distinct: int, generated: int) -> float:
    """TLC's "calculated (optimistic)" estimate: n * (g - n) / 2**64 for n distinct among g generated states."""
    return distinct * max(generated - distinct, 0) / 2.0**64


def collision_observed(fingerprints: Iterable[int]) -> float:
    """TLC's "based on the actual fingerprints" estimate (`FPSet.checkFPs`): 1 / the least distance between two
    of the fingerprints stored, in a fingerprint space of 2**64 (0.0 when fewer than two are stored)."""
    ordered = sorted(fingerprints)
    if len(ordered) < 2:
        return 0.0
    least = min(b - a for a, b in zip(ordered, ordered[1:], strict=False))
    return 1.0 / least if least > 0 else 1.0
