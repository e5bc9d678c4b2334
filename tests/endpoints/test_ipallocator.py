"""spec/ipallocator.py against upstream's own test vectors.

Cited: pkg/registry/core/service/ipallocator/bitmap_test.go (TestAllocate, TestAllocateTiny, TestAllocateReserved,
TestAllocateSmall, TestForEach, Test_calculateRangeOffset) and pkg/registry/core/service/portallocator/
allocator_test.go (TestAllocate over 10000-10200, TestAllocateReserved over 30000-30128) and
portallocator/storage/storage_test.go (TestAllocateReserved: the default range's static band is 86 ports).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spec.ipallocator import ErrAllocated, ErrFull, ErrNotInRange, IPRange, PortRange


@pytest.mark.parametrize(
    ("cidr", "want"),
    [
        ("192.168.1.1/32", 0), ("fd00::1/128", 0), ("192.168.1.1/30", 0), ("fd00::1/126", 0),
        ("192.168.1.1/28", 0), ("192.168.1.1/27", 16), ("fd00::1/124", 0), ("fd00::1/122", 16),
        ("192.168.1.1/22", 64), ("fd00::1/118", 64), ("192.168.1.1/8", 256), ("fd00::1/12", 256),
    ],
)
def test_calculate_range_offset(cidr: str, want: int) -> None:
    """Test_calculateRangeOffset."""
    assert IPRange.new(cidr).static_band == want


@pytest.mark.parametrize(
    ("cidr", "family", "free", "out_of_range", "already"),
    [
        ("192.168.1.0/24", "IPv4", 254, ["192.168.0.1", "192.168.1.0", "192.168.1.255", "192.168.2.2"],
         "192.168.1.1"),
        ("10.0.0.0/15", "IPv4", 131070, ["10.0.0.0", "10.15.255.255", "10.255.255.2"], "10.0.0.1"),
        ("2001:db8:1::/48", "IPv6", 65535, ["2001:db8::1", "2001:db8:1::", "2001:db8:1::1:0", "2001:db8:2::2"],
         "2001:db8:1::1"),
    ],
)
def test_allocate_vectors(cidr: str, family: str, free: int, out_of_range: list[str], already: str) -> None:
    """TestAllocate's vectors: free count, out-of-range addresses (network, broadcast, outside), ErrAllocated."""
    r = IPRange.new(cidr)
    assert (r.cidr, r.family, r.free, r.used) == (cidr, family, free, 0)
    r = r.allocate(already)
    for ip in out_of_range:
        with pytest.raises(ErrNotInRange, match=r"is not in the valid range\. The range of valid IPs is "):
            r.allocate(ip)
    with pytest.raises(ErrAllocated, match="^provided IP is already allocated$"):
        r.allocate(already)
    assert r.free == free - 1


def test_allocate_fill_release_reallocate() -> None:
    """TestAllocate's /24 case in full: 254 distinct dynamic allocations, then full; a released address is the
    only one AllocateNext can return."""
    r = IPRange.new("192.168.1.0/24")
    seen = set()
    for i in range(254):
        r, ip = r.allocate_next(start=i * 7)
        assert ip not in seen and r.has(ip)
        seen.add(ip)
    assert r.free == 0
    with pytest.raises(ErrFull, match="^range is full$"):
        r.allocate_next()
    r = r.release("192.168.1.5")
    assert (r.free, r.used) == (1, 253)
    assert r.dynamic_candidates() == ("192.168.1.5",)
    r, ip = r.allocate_next(start=123)
    assert ip == "192.168.1.5"
    assert r.release("10.0.0.1") == r  # out of range: a no-op
    assert r.release("192.168.1.5").release("192.168.1.5").free == 1  # releasing twice: a no-op


def test_allocate_tiny_and_small() -> None:
    """TestAllocateTiny (/32: nothing usable) and TestAllocateSmall (/30: two addresses)."""
    tiny = IPRange.new("192.168.1.0/32")
    assert tiny.free == 0
    with pytest.raises(ErrFull):
        tiny.allocate_next()
    small = IPRange.new("192.168.1.240/30")
    assert (small.free, small.max, small.static_band) == (2, 2, 0)
    small, a = small.allocate_next()
    small, b = small.allocate_next()
    assert {a, b} == {"192.168.1.241", "192.168.1.242"}
    with pytest.raises(ErrAllocated):
        small.allocate(a)
    with pytest.raises(ErrFull):
        small.allocate_next(start=5)


def test_allocate_reserved_static_band() -> None:
    """TestAllocateReserved: /25, static band 16: dynamic allocation fills the upper 110 addresses first; then
    every static-band address can still be requested."""
    r = IPRange.new("192.168.1.0/25")
    assert (r.max, r.static_band) == (126, 16)
    for i in range(r.max - r.static_band):
        r, _ = r.allocate_next(start=i * 13)
    assert all(r.has(f"192.168.1.{i + 1}") for i in range(16, 126))
    assert r.free == 16 and not any(r.has(f"192.168.1.{i + 1}") for i in range(16))
    for i in range(16):
        r = r.allocate(f"192.168.1.{i + 1}")
    assert r.free == 0
    r = r.release("192.168.1.10")
    r, ip = r.allocate_next()
    assert ip == "192.168.1.10" and r.free == 0


def test_dynamic_falls_back_to_static_band() -> None:
    """randomScanStrategyWithOffset: the lower band is used only when the upper one is full."""
    r = IPRange.new("10.0.0.0/27")  # 30 usable, static band 16
    assert set(r.dynamic_candidates()) == {f"10.0.0.{i + 1}" for i in range(16, 30)}
    for ip in r.dynamic_candidates():
        r = r.allocate(ip)
    assert r.dynamic_candidates() == tuple(f"10.0.0.{i + 1}" for i in range(16))


def test_for_each() -> None:
    """TestForEach."""
    for ips in [set(), {"192.168.1.1"}, {"192.168.1.1", "192.168.1.254"},
                {"192.168.1.1", "192.168.1.128", "192.168.1.254"}]:
        r = IPRange.new("192.168.1.0/24")
        for ip in ips:
            r = r.allocate(ip)
        assert set(r.allocated()) == ips


def test_ipv6_keeps_its_last_address() -> None:
    """IPv6 has no broadcast address: the last address of a small range is usable (bitmap.go New)."""
    r = IPRange.new("fd00::/124")
    assert r.max == 15
    r = r.allocate("fd00::f")
    with pytest.raises(ErrNotInRange):
        r.allocate("fd00::")


def test_node_ports_default_range() -> None:
    """portallocator: 30000-32767, 2768 ports, static band min(max(16, 2768/32), 128) = 86 (storage_test.go)."""
    p = PortRange.new()
    assert (str(p), p.size, p.static_band, p.free) == ("30000-32767", 2768, 86, 2768)
    assert min(p.dynamic_candidates()) == 30086
    p = p.allocate(30000)
    with pytest.raises(ErrAllocated, match="^provided port is already allocated$"):
        p.allocate(30000)
    with pytest.raises(ErrNotInRange, match="^provided port is not in the valid range. The range of valid ports "
                                            "is 30000-32767$"):
        p.allocate(32768)


def test_port_allocate_vectors() -> None:
    """portallocator TestAllocate over 10000-10200: 201 ports; out of range 1, 20000, 10201."""
    p = PortRange.parse("10000-10200")
    assert p.free == 201
    for i in range(201):
        p, _ = p.allocate_next(start=i * 31)
    with pytest.raises(ErrFull):
        p.allocate_next()
    p = p.release(10150)
    p, port = p.allocate_next(start=3)
    assert port == 10150
    p = p.release(10150)
    for bad in (1, 20000, 10201):
        with pytest.raises(ErrNotInRange):
            p.allocate(bad)
    with pytest.raises(ErrAllocated):
        p.allocate(10001)
    assert (p.free, p.used) == (1, 200)


def test_port_allocate_reserved() -> None:
    """portallocator TestAllocateReserved over 30000-30128: static band min(max(16, 129/32), 128) = 16."""
    p = PortRange.parse("30000-30128")
    assert p.static_band == 16
    for i in range(p.size - 16):
        p, _ = p.allocate_next(start=i)
    assert all(p.has(30000 + i) for i in range(16, p.size)) and p.free == 16
    for i in range(16):
        p = p.allocate(30000 + i)
    assert p.free == 0


@settings(max_examples=60, deadline=None)
@given(prefix=st.integers(24, 30), ops=st.lists(st.tuples(st.booleans(), st.integers(0, 300)), max_size=60))
def test_allocations_unique_and_counted(prefix: int, ops: list[tuple[bool, int]]) -> None:
    """Any sequence of AllocateNext and Release keeps addresses unique, inside the usable range, and counted."""
    r = IPRange.new(f"10.1.0.0/{prefix}")
    held: set[str] = set()
    for allocate, n in ops:
        if allocate:
            if r.free == 0:
                with pytest.raises(ErrFull):
                    r.allocate_next(start=n)
                continue
            candidates = r.dynamic_candidates()
            r, ip = r.allocate_next(start=n, low_start=n)
            assert ip not in held and ip in candidates
            held.add(ip)
        elif held:
            ip = sorted(held)[n % len(held)]
            r = r.release(ip)
            held.discard(ip)
        assert set(r.allocated()) == held and r.free == r.max - len(held)
    net = r.network
    assert all(ip != str(net.network_address) and ip != str(net.broadcast_address) for ip in held)
