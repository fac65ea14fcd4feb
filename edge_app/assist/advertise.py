"""Zeroconf (mDNS) advertisement of the Wyoming service as `_wyoming._tcp`, as other Wyoming services
do, so Home Assistant offers to add it. A network without multicast only loses the advertisement."""

from __future__ import annotations

import logging
import socket

import ifaddr
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

log = logging.getLogger(__name__)
SERVICE_TYPE = "_wyoming._tcp.local."


class Advertiser:
    """Registers `<name>._wyoming._tcp.local.` for a port on `host` (all IPv4 addresses when empty)."""

    def __init__(self, name: str, host: str = ""):
        self.name = name
        self.host = "" if host in ("", "0.0.0.0") else host
        self._zeroconf: AsyncZeroconf | None = None
        self.info: AsyncServiceInfo | None = None

    async def register(self, port: int) -> None:
        try:
            self._zeroconf = AsyncZeroconf(ip_version=IPVersion.V4Only)
            addresses = [socket.inet_aton(self.host)] if self.host else None
            self.info = AsyncServiceInfo(
                SERVICE_TYPE,
                f"{self.name}.{SERVICE_TYPE}",
                port=port,
                addresses=addresses,
                parsed_addresses=None if addresses else _addresses(),
                server=f"{self.name}.local.",
            )
            await self._zeroconf.async_register_service(self.info)
            log.info("Assist: advertised as %s on port %d (zeroconf)", self.info.name, port)
        except Exception as exc:  # no multicast route, a name clash: serve anyway, say so
            log.warning(
                "Assist: zeroconf advertisement failed (%r); add the Wyoming integration by host and "
                "port instead, or set assist.zeroconf = false",
                exc,
            )

    async def close(self) -> None:
        if self._zeroconf is None:
            return
        try:
            if self.info is not None:
                await self._zeroconf.async_unregister_service(self.info)
            await self._zeroconf.async_close()
        except Exception as exc:
            log.debug("Assist: zeroconf close: %r", exc)


def _addresses() -> list[str]:
    """This host's IPv4 addresses (ifaddr: zeroconf's own interface scanner), link-local left out."""
    return [
        ip.ip
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if isinstance(ip.ip, str) and not ip.ip.startswith("169.254.")
    ] or ["127.0.0.1"]
