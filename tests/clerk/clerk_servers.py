"""Scripted HTTP/1.1 servers on 127.0.0.1 for the Wire and tunnel tests, and a self-signed
certificate for TLS ones.

The server answers by what the path holds: ``/ok`` a JSON body, ``/gzip`` a chunked gzip body,
``/deflate`` a deflate body, ``/early`` a 103 Early Hints before the answer, ``/brotli`` a body
in an encoding Wire does not speak, ``/eof`` a body delimited by closing the connection,
``/garbage`` bytes that are not HTTP, ``/twice`` a repeated header, ``/close`` a body with
``Connection: close``, ``/hold`` waits for the test to release it, ``/stall`` never answers,
``/lost`` reads the request and closes the socket, ``/drop`` answers and then closes the socket
without saying so, ``/extra`` answers and then sends bytes nobody asked for, ``/glued`` sends them
with the answer. It counts the connections it accepts and how many were open at once, and keeps
every request it read.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import gzip
import ipaddress
import ssl
import zlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

COUNT_BODY = b'{"object":"total_count","total_count":7}'


class ScriptedServer:
    """A tiny HTTP/1.1 server whose behaviour is chosen by the request path."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.accepted = 0
        self.open = 0
        self.peak_open = 0
        self.closed_by_client = 0
        self.requests: list[bytes] = []
        self.release = asyncio.Event()
        self.dropped = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        self.release.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        self.peak_open = max(self.peak_open, self.open)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    self.closed_by_client += 1
                    return
                lines = head.decode().split("\r\n")
                path = lines[0].split(" ")[1]
                length = next(
                    (int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length")),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                if not await self._answer(path, reader, writer):
                    return
        finally:
            self.open -= 1
            writer.close()

    async def _answer(
        self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Write the answer for ``path``; False when the connection is to be closed."""
        if "/stall" in path:
            await reader.read()  # until the client gives up and closes
            return False
        if "/lost" in path:
            return False
        if "/hold" in path:
            await self.release.wait()
        if "/early" in path:
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            await writer.drain()
        if "/garbage" in path:
            writer.write(b"SMTP ready\r\n\r\n")
            await writer.drain()
            return False
        if "/eof" in path:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + COUNT_BODY)
            await writer.drain()
            return False
        if "/gzip" in path:
            packed = gzip.compress(COUNT_BODY)
            half = len(packed) // 2
            chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (
                half, packed[:half], len(packed) - half, packed[half:]
            )  # fmt: skip
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
            )
            await writer.drain()
            return True
        body, extra = COUNT_BODY, b""
        if "/deflate" in path:
            body, extra = zlib.compress(COUNT_BODY), b"Content-Encoding: deflate\r\n"
        elif "/brotli" in path:
            extra = b"Content-Encoding: br\r\n"
        elif "/twice" in path:
            extra = b"X-Thing: a\r\nx-thing: b\r\n"
        close = "/close" in path
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n%s%s\r\n%s%s"
            % (len(body), extra, b"Connection: close\r\n" if close else b"", body,
               b"HTTP/1.1 200 OK\r\nContent-Le" if "/glued" in path else b"")
        )  # fmt: skip
        await writer.drain()
        if "/drop" in path:
            self.dropped.set()
            return False
        if "/extra" in path:
            await asyncio.sleep(0.01)
            writer.write(b"HTTP/1.1 200 OK\r\n")
            await writer.drain()
        if "/glued" in path:
            return True  # the extra bytes went out with the answer (see below)
        return not close


def write_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for 127.0.0.1, as PEM files in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class ConnectProxy:
    """An HTTP proxy on 127.0.0.1 that only tunnels (``CONNECT``) and relays bytes both ways.

    With ``credentials`` ("user:password") it answers 407 unless the request carries them as
    ``Proxy-Authorization: Basic``. It keeps each CONNECT head it read and every byte it relayed
    towards the origin, so tests can check what a proxy gets to see.
    """

    def __init__(self, credentials: str | None = None) -> None:
        self.credentials = credentials
        self.heads: list[bytes] = []
        self.relayed = bytearray()
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        self.heads.append(head)
        lines = head.decode("latin-1").split("\r\n")
        if self.credentials is not None:
            expected = "Basic " + base64.b64encode(self.credentials.encode()).decode()
            given = [
                x.split(":", 1)[1].strip() for x in lines if x.lower().startswith("proxy-auth")
            ]
            if given != [expected]:
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
                )
                await writer.drain()
                writer.close()
                return
        host, port = lines[0].split(" ")[1].rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, seen: bytearray | None
        ) -> None:
            try:
                while data := await src.read(65536):
                    if seen is not None:
                        seen += data
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, self.relayed), pipe(up_reader, writer, None))
