"""ClusterIP and NodePort allocation as pure values: what the API server hands a Service.

Models (upstream):

- pkg/registry/core/service/ipallocator/bitmap.go (Range): the service CIDR's usable addresses are offsets from
  the network address + 1; IPv4 excludes the network and the broadcast address, IPv6 only the network address
  (its "subnet-router anycast" .0) and caps the range at 65536 addresses; ``Allocate(ip)`` honours a requested IP
  or fails with ErrNotInRange / ErrAllocated; ``AllocateNext`` fails with ErrFull; ``Release`` of an address not
  allocated or not in range is a no-op.
- pkg/registry/core/service/allocator/bitmap.go (randomScanStrategyWithOffset): the range is split at
  ``offset = calculateRangeOffset``; the lower band [0, offset) is reserved for static (requested) allocation:
  dynamic allocation scans the upper band from a random start, wrapping, and only when the upper band is full
  the lower band, from a random start too. ClusterIPs: offset = min(max(16, size/16), 256), 0 when the CIDR has
  at most 16 addresses (KEP-3070, ServiceIPStaticSubrange).
- pkg/registry/core/service/portallocator/allocator.go: NodePorts, default range 30000-32767 (kube-apiserver
  --service-node-port-range), offsets from the base port, same strategy with offset = min(max(16, size/32), 128),
  0 when the range has at most 16 ports (KEP-3668, ServiceNodePortStaticSubrange): 86 for the default range.
- Error texts: ipallocator's ErrAllocated "provided IP is already allocated", ErrFull "range is full",
  ErrNotInRange "the provided IP (IP) is not in the valid range. The range of valid IPs is CIDR" (the bitmap
  allocator's text, v1.25-v1.30; later releases shorten it); portallocator's "provided port is already
  allocated", "range is full", "provided port is not in the valid range. The range of valid ports is RANGE". The
  Service REST storage (pkg/registry/core/service/storage/alloc.go) wraps them as
  ``failed to allocate IP <ip>: <error>`` in a spec.clusterIPs Invalid field error.

Abstracts: the random start of a dynamic scan is an argument (``start``), so a caller (a model checker) can
enumerate what AllocateNext may return (``dynamic_candidates``) or reproduce one run. Omits: the etcd-backed
snapshot and its resourceVersion retries, the repair controllers, the IPAddress-object allocator of
MultiCIDRServiceAllocator (v1.31+ default; same bands and the same choice of address), dual-stack pairs of ranges,
dry runs and metrics.
"""

from __future__ import annotations

import ipaddress

import attrs

DEFAULT_NODE_PORT_RANGE = (30000, 2768)
"""--service-node-port-range 30000-32767: (base, size)."""


class AllocationError(Exception):
    """An allocation the API server refuses; the message is upstream's error text."""


class ErrNotInRange(AllocationError):
    pass


class ErrAllocated(AllocationError):
    pass


class ErrFull(AllocationError):
    pass


def _band_offset(size: int, low: int, high: int, step: int) -> int:
    """calculateRangeOffset: min(max(low, size/step), high), 0 when size <= low."""
    if size <= low:
        return 0
    return min(max(low, size // step), high)


@attrs.frozen
class _Bitmap:
    """allocator.AllocationBitmap with randomScanStrategyWithOffset: offsets 0..max-1, static band below ``offset``."""

    max: int
    offset: int
    allocated: frozenset[int] = frozenset()

    @property
    def free(self) -> int:
        return self.max - len(self.allocated)

    def scan_order(self, start: int = 0, low_start: int = 0) -> list[int]:
        """The offsets AllocateBit tries, in order, for random starts ``start`` (upper band) and ``low_start``."""
        upper = self.max - self.offset
        order = [self.offset + (start + i) % upper for i in range(upper)] if upper > 0 else []
        if self.offset > 0:
            order += [(low_start + i) % self.offset for i in range(self.offset)]
        return order

    def next_free(self, start: int, low_start: int) -> int | None:
        if len(self.allocated) >= self.max:
            return None
        return next((at for at in self.scan_order(start, low_start) if at not in self.allocated), None)

    def candidates(self) -> tuple[int, ...]:
        """Every offset AllocateNext may return: the free upper-band ones, or, when none, the free lower-band ones."""
        upper = tuple(at for at in range(self.offset, self.max) if at not in self.allocated)
        if upper:
            return upper
        return tuple(at for at in range(self.offset) if at not in self.allocated)


def _address(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped  # Go's net.IP treats an IPv4-mapped address as IPv4
    return addr


@attrs.frozen
class IPRange:
    """ipallocator.Range over a service CIDR (e.g. kube-apiserver --service-cluster-ip-range 10.96.0.0/12)."""

    cidr: str
    bitmap: _Bitmap

    @classmethod
    def new(cls, cidr: str) -> IPRange:
        """NewInMemory: raises ValueError if ``cidr`` is not a CIDR (host bits are masked, as ParseCIDR does)."""
        net = ipaddress.ip_network(cidr.strip(), strict=False)
        size = net.num_addresses
        usable = max(0, min(size, 65536) - 1 if net.version == 6 else size - 2)
        return cls(str(net), _Bitmap(usable, _band_offset(size, 16, 256, 16)))

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr)

    @property
    def family(self) -> str:
        return "IPv6" if self.network.version == 6 else "IPv4"

    @property
    def max(self) -> int:
        """Usable addresses."""
        return self.bitmap.max

    @property
    def static_band(self) -> int:
        """How many of the lowest usable addresses are kept for requested IPs (calculateRangeOffset)."""
        return self.bitmap.offset

    @property
    def free(self) -> int:
        return self.bitmap.free

    @property
    def used(self) -> int:
        return len(self.bitmap.allocated)

    def _offset(self, ip: str) -> int | None:
        """contains: the offset of ``ip`` (None when outside the usable addresses)."""
        try:
            addr = _address(ip)
        except ValueError:
            return None
        net = self.network
        if addr.version != net.version or addr not in net:
            return None
        offset = int(addr) - int(net.network_address) - 1
        return offset if 0 <= offset < self.max else None

    def _ip(self, offset: int) -> str:
        return str(self.network.network_address + offset + 1)

    def has(self, ip: str) -> bool:
        offset = self._offset(ip)
        return offset is not None and offset in self.bitmap.allocated

    def allocated(self) -> tuple[str, ...]:
        """ForEach, in address order."""
        return tuple(self._ip(o) for o in sorted(self.bitmap.allocated))

    def allocate(self, ip: str) -> IPRange:
        """Allocate(ip): the range with ``ip`` taken; ErrNotInRange or ErrAllocated with upstream's text."""
        offset = self._offset(ip)
        if offset is None:
            raise ErrNotInRange(f"the provided IP ({ip}) is not in the valid range. "
                                f"The range of valid IPs is {self.cidr}")
        if offset in self.bitmap.allocated:
            raise ErrAllocated("provided IP is already allocated")
        return attrs.evolve(self, bitmap=attrs.evolve(self.bitmap, allocated=self.bitmap.allocated | {offset}))

    def allocate_next(self, start: int = 0, low_start: int = 0) -> tuple[IPRange, str]:
        """AllocateNext with the random scan starts given (``start`` in the dynamic band, ``low_start`` in the
        static band; both taken modulo the band's size): the range and the address; ErrFull when none is free."""
        upper = self.max - self.static_band
        offset = self.bitmap.next_free(start % upper if upper else 0,
                                       low_start % self.static_band if self.static_band else 0)
        if offset is None:
            raise ErrFull("range is full")
        ip = self._ip(offset)
        return self.allocate(ip), ip

    def dynamic_candidates(self) -> tuple[str, ...]:
        """Every address AllocateNext may return now (the nondeterministic choice), in address order."""
        return tuple(self._ip(o) for o in self.bitmap.candidates())

    def release(self, ip: str) -> IPRange:
        """Release: a no-op for an address not allocated or not in range."""
        offset = self._offset(ip)
        if offset is None or offset not in self.bitmap.allocated:
            return self
        return attrs.evolve(self, bitmap=attrs.evolve(self.bitmap, allocated=self.bitmap.allocated - {offset}))


@attrs.frozen
class PortRange:
    """portallocator.PortAllocator over a NodePort range (default 30000-32767)."""

    base: int
    size: int
    bitmap: _Bitmap

    @classmethod
    def new(cls, base: int = DEFAULT_NODE_PORT_RANGE[0], size: int = DEFAULT_NODE_PORT_RANGE[1]) -> PortRange:
        if not (0 < base <= 65535 and size >= 0 and base + size - 1 <= 65535):
            raise ValueError(f"{base}+{size} is not a port range")
        return cls(base, size, _Bitmap(size, _band_offset(size, 16, 128, 32)))

    @classmethod
    def parse(cls, text: str) -> PortRange:
        """net.ParsePortRange: "30000-32767" or a single port "30000"."""
        lo, _, hi = text.strip().partition("-")
        first, last = int(lo), int(hi or lo)
        if last < first:
            raise ValueError(f"{text!r}: the end is before the start")
        return cls.new(first, last - first + 1)

    def __str__(self) -> str:
        return f"{self.base}-{self.base + self.size - 1}" if self.size else ""

    @property
    def static_band(self) -> int:
        return self.bitmap.offset

    @property
    def free(self) -> int:
        return self.bitmap.free

    @property
    def used(self) -> int:
        return len(self.bitmap.allocated)

    def _offset(self, port: int) -> int | None:
        offset = port - self.base
        return offset if 0 <= offset < self.size else None

    def has(self, port: int) -> bool:
        offset = self._offset(port)
        return offset is not None and offset in self.bitmap.allocated

    def allocated(self) -> tuple[int, ...]:
        return tuple(self.base + o for o in sorted(self.bitmap.allocated))

    def allocate(self, port: int) -> PortRange:
        offset = self._offset(port)
        if offset is None:
            raise ErrNotInRange(f"provided port is not in the valid range. The range of valid ports is {self}")
        if offset in self.bitmap.allocated:
            raise ErrAllocated("provided port is already allocated")
        return attrs.evolve(self, bitmap=attrs.evolve(self.bitmap, allocated=self.bitmap.allocated | {offset}))

    def allocate_next(self, start: int = 0, low_start: int = 0) -> tuple[PortRange, int]:
        upper = self.size - self.static_band
        offset = self.bitmap.next_free(start % upper if upper else 0,
                                       low_start % self.static_band if self.static_band else 0)
        if offset is None:
            raise ErrFull("range is full")
        port = self.base + offset
        return self.allocate(port), port

    def dynamic_candidates(self) -> tuple[int, ...]:
        return tuple(self.base + o for o in self.bitmap.candidates())

    def release(self, port: int) -> PortRange:
        offset = self._offset(port)
        if offset is None or offset not in self.bitmap.allocated:
            return self
        return attrs.evolve(self, bitmap=attrs.evolve(self.bitmap, allocated=self.bitmap.allocated - {offset}))
