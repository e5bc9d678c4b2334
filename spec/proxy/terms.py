"""z3 terms built through z3's C API: the verifier builds hundreds of thousands of them.

z3's Python operators coerce and sort-check every argument (`z3.And`, `==`, `&` on bit-vectors); here the
caller guarantees well-sorted arguments (Booleans, or bit-vectors of one width), so each term is one C call and
one reference-counted wrapper. Numerals are shared. Semantics are those of the z3 operators they replace.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import z3


class Terms:
    """Term constructors over one z3 context."""

    def __init__(self, ctx: z3.Context | None = None) -> None:
        self.ctx = ctx if ctx is not None else z3.main_ctx()
        self._ref = self.ctx.ref()
        self.true = z3.BoolVal(True, self.ctx)
        self.false = z3.BoolVal(False, self.ctx)
        self._numerals: dict[tuple[int, int], z3.BitVecRef] = {}
        self._sorts: dict[int, z3.BitVecSortRef] = {}
        self._bool_sort: z3.BoolSortRef | None = None

    def _bool(self, ast: object) -> z3.BoolRef:
        return z3.BoolRef(ast, self.ctx)

    def and_(self, exprs: Sequence[z3.BoolRef]) -> z3.BoolRef:
        if not exprs:
            return self.true
        if len(exprs) == 1:
            return exprs[0]
        arr = (z3.Ast * len(exprs))(*[e.as_ast() for e in exprs])
        return self._bool(z3.Z3_mk_and(self._ref, len(exprs), arr))

    def or_(self, exprs: Sequence[z3.BoolRef]) -> z3.BoolRef:
        if not exprs:
            return self.false
        if len(exprs) == 1:
            return exprs[0]
        arr = (z3.Ast * len(exprs))(*[e.as_ast() for e in exprs])
        return self._bool(z3.Z3_mk_or(self._ref, len(exprs), arr))

    def not_(self, expr: z3.BoolRef) -> z3.BoolRef:
        return self._bool(z3.Z3_mk_not(self._ref, expr.as_ast()))

    def implies(self, a: z3.BoolRef, b: z3.BoolRef) -> z3.BoolRef:
        return self._bool(z3.Z3_mk_implies(self._ref, a.as_ast(), b.as_ast()))

    def eq(self, a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
        return self._bool(z3.Z3_mk_eq(self._ref, a.as_ast(), b.as_ast()))

    def bool_const(self, name: str) -> z3.BoolRef:
        if self._bool_sort is None:
            self._bool_sort = z3.BoolSort(self.ctx)
        return self._bool(z3.Z3_mk_const(self._ref, z3.Z3_mk_string_symbol(self._ref, name), self._bool_sort.ast))

    def num(self, value: int, width: int) -> z3.BitVecRef:
        """The `width`-bit numeral `value` (shared)."""
        key = (value, width)
        found = self._numerals.get(key)
        if found is None:
            sort = self._sorts.get(width)
            if sort is None:
                sort = self._sorts[width] = z3.BitVecSort(width, self.ctx)
            found = self._numerals[key] = z3.BitVecRef(
                z3.Z3_mk_unsigned_int64(self._ref, value, sort.ast), self.ctx)
        return found

    def equals(self, var: z3.BitVecRef, value: int) -> z3.BoolRef:
        return self.eq(var, self.num(value, var.size()))

    def between(self, var: z3.BitVecRef, lo: int, hi: int) -> z3.BoolRef:
        """lo <= var <= hi, unsigned."""
        if lo == hi:
            return self.equals(var, lo)
        width = var.size()
        ge = self._bool(z3.Z3_mk_bvuge(self._ref, var.as_ast(), self.num(lo, width).as_ast()))
        le = self._bool(z3.Z3_mk_bvule(self._ref, var.as_ast(), self.num(hi, width).as_ast()))
        return self.and_([ge, le])

    def in_net(self, var: z3.BitVecRef, net: ipaddress.IPv4Network) -> z3.BoolRef:
        """The address `var` lies in `net`: its top prefixlen bits are the network's.

        The same as (var & netmask) == network address, but z3 decides the narrower equality faster.
        """
        if net.prefixlen == 32:
            return self.equals(var, int(net.network_address))
        if net.prefixlen == 0:
            return self.true
        low = 32 - net.prefixlen
        top = z3.BitVecRef(z3.Z3_mk_extract(self._ref, 31, low, var.as_ast()), self.ctx)
        return self.eq(top, self.num(int(net.network_address) >> low, net.prefixlen))
