"""The baseline SMTP server: aiosmtpd that answers 250 to every message and keeps nothing.

Run as `python -m bench.sink --port PORT --max-size BYTES`. It uses the same SMTP
library with the same settings as Sealbox's intake (sealbox.intake.smtpd): the
same line length and message size limits, undecoded data, SMTPUTF8, one asyncio
server in the main thread. The difference to Sealbox is the storing.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class SinkSMTP(SMTP):
    line_length_limit = 1024 * 1024  # as SealboxSMTP


class Sink:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 OK"


async def serve(port: int, max_size: int) -> None:
    handler = Sink()

    def factory() -> Any:
        return SinkSMTP(
            handler,
            data_size_limit=max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname="sink.bench.invalid",
            ident="bench sink",
            timeout=300,
        )

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await loop.create_server(factory, host="127.0.0.1", port=port, reuse_address=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sink", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-size", type=int, default=50 * 1024 * 1024)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.max_size))


if __name__ == "__main__":
    main()
