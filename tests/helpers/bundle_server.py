"""A real HTTP(S) server on loopback for the over-the-air tests: files, floods, trickles and redirects.

TLS uses a CA and a server certificate for 127.0.0.1 made here with `cryptography`; the
service under test is pointed at the CA with `ota.ca_file`, as a board would be.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_tls(folder: Path) -> tuple[Path, Path, Path]:
    """(ca.crt, server.crt, server.key): a throwaway CA and a certificate for 127.0.0.1 signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge-app test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.crt", folder / "server.crt", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class BundleServer:
    """Serves: /files/NAME from a folder; /flood (endless bytes, no length); /trickle (a byte of body every 0.1 s),
    /trickle-headers (a byte of a header every 0.1 s);
    /redirect?to=URL (302). Counts what it sent on /flood, to show the client stopped reading."""

    def __init__(self, files: Path, tls: tuple[Path, Path] | None = None):
        self.files = files
        self.flood_sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def do_GET(self) -> None:
                try:
                    server.route(self)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass  # the client hung up, as it should on a flood or a trickle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.url = f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def route(self, h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/files/"):
            data = (self.files / h.path[len("/files/") :]).read_bytes()
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        elif h.path == "/flood":
            h.send_response(200)
            h.end_headers()  # no Content-Length: the client learns the size only by reading
            block = b"\0" * 65536
            while True:
                h.wfile.write(block)
                self.flood_sent += len(block)
        elif h.path == "/trickle":
            h.send_response(200)
            h.send_header("Content-Length", "100000")
            h.end_headers()
            while True:
                h.wfile.write(b"x")
                h.wfile.flush()
                time.sleep(0.1)
        elif h.path == "/trickle-headers":
            h.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
            while True:
                h.wfile.write(b"x")
                h.wfile.flush()
                time.sleep(0.1)
        elif h.path.startswith("/redirect?to="):
            h.send_response(302)
            h.send_header("Location", h.path.split("=", 1)[1])
            h.end_headers()
        else:
            h.send_response(404)
            h.end_headers()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
