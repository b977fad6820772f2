"""PAdES signatures on certificate PDFs: one key per consortium, made on first use.

Every certificate PDF the service produces is signed (PAdES baseline B-B, pyHanko) by its
consortium, so a PDF reader can report it untampered, and anyone who trusts the consortium's
certificate (its SHA-256 fingerprint is on the public verification page) can check that the
consortium issued it. No network is used: no time-stamp server, no revocation data; the
signing time is the signer's own claim.

Keys live outside the database, in LMS_SIGNING_KEY_DIR (default <instance>/keys): one PEM file
per consortium holding an ECDSA P-256 private key and its self-signed X.509 certificate (subject:
the consortium's name and code, valid 10 years), mode 0600. ECDSA P-256 rather than RSA 2048
(measured per signature with pyHanko: about the same time once the key object is kept, but an
RSA key costs ~90 ms to load and validate and 100 ms or more to generate, and its signature and
certificate make each PDF ~0.8 KB larger). The file is written to a temporary name and
hard-linked into place, which fails if it exists: of two processes creating the key at once,
one wins and the other reads the winner's file. A renamed consortium keeps its key and
certificate.

A key is never made again behind the consortium's back: each certificate stores the fingerprint
of the key that signed it, and when the key file of a consortium that has signed certificates is
missing (a restore without the key folder), signing refuses (MissingKeyError) instead of making
a new key whose fingerprint would contradict every PDF already issued. `flask ops check` lists
such consortia.

Speed (bench/certificates.py reports sign_ms): the loaded key and certificate are kept per
process; the signature's space in the PDF is reserved from the certificate's size instead of
letting pyHanko estimate it with a trial signature (which nearly doubled the cost), and the
parts of the CMS structure that depend only on the certificate are made once (see
_signer_class): ~45 ms a signature with pyHanko's defaults, ~5 ms so.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import functools
import hashlib
import io
import logging
import os
import re
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from lms.certificates.models import Certificate
from lms.certificates.render import RenderError
from lms.extensions import db
from lms.tenancy.models import Consortium

VALIDITY = timedelta(days=3653)  # 10 years
FIELD_NAME = "Certificate-Signature"
_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)
_LOCK = threading.Lock()
_SIGNERS: dict[Path, _ConsortiumSigner] = {}  # per process: a key file is read once
_REPORTED: set[Path] = set()  # missing keys already logged by this process
log = logging.getLogger(__name__)


def key_dir() -> Path:
    configured = current_app.config.get("LMS_SIGNING_KEY_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "keys"


def key_path(consortium_id: int) -> Path:
    return key_dir() / f"consortium-{int(consortium_id)}.pem"


class SigningError(RenderError):
    """The PDF could not be signed (no writable key folder, an unreadable key file…): it is
    not served unsigned, so this stops the PDF like a render error does."""


class MissingKeyError(SigningError):
    """The consortium's key file is missing while certificates signed with its key exist: a
    new key would contradict them, so none is made."""

    def __init__(self, consortium, path: Path):
        super().__init__(
            f"the signing key {path} of consortium {consortium.code} is missing and "
            "certificates signed with it exist: restore it from the backup (no new key is made)"
        )
        self.path = path
        self.message = _l(
            "The signing key of consortium %(code)s is missing (%(file)s), and certificates "
            "signed with it exist. Restore the key folder from the backup: no new key is made, "
            "so that the certificates already issued keep verifying.",
            code=consortium.code,
            file=path.name,
        )


def _signed():
    """Certificates whose PDF was signed: with a recorded fingerprint, or a PDF from before
    fingerprints were recorded."""
    return or_(Certificate.signing_fingerprint.is_not(None), Certificate.pdf_sha256.is_not(None))


def signed_certificates(consortium_id: int) -> int:
    """How many certificates of the consortium have a signed PDF."""
    return db.session.scalar(
        select(func.count(Certificate.id)).where(
            Certificate.consortium_id == consortium_id, _signed()
        )
    )


def key_report() -> list[tuple]:
    """(consortium, key path, signed certificates, those signed by another key than the
    current file's) for every consortium with signed certificates (`flask ops check`)."""
    rows = db.session.execute(
        select(Consortium, func.count(Certificate.id))
        .join(Certificate, Certificate.consortium_id == Consortium.id)
        .where(_signed())
        .group_by(Consortium.id)
        .order_by(Consortium.code)
    ).all()
    report = []
    for consortium, count in rows:
        current = fingerprint_hex(consortium.id)
        other = 0
        if current is not None:
            other = db.session.scalar(
                select(func.count(Certificate.id)).where(
                    Certificate.consortium_id == consortium.id,
                    Certificate.signing_fingerprint.is_not(None),
                    Certificate.signing_fingerprint != current,
                )
            )
        report.append((consortium, key_path(consortium.id), count, other))
    return report


def sign_pdf(pdf: bytes, consortium) -> bytes:
    """`pdf` with the consortium's PAdES B-B signature added (an incremental update); the
    consortium's key is made first if it has none and has signed nothing yet."""
    path = key_path(consortium.id)
    if not path.is_file() and signed_certificates(consortium.id):
        if path not in _REPORTED:  # once per process, not once per certificate
            _REPORTED.add(path)
            log.error("signing refused: %s", MissingKeyError(consortium, path))
        raise MissingKeyError(consortium, path)
    return sign_with_key_file(pdf, path, name=consortium.name, code=consortium.code)


def sign_with_key_file(pdf: bytes, path: Path, *, name: str, code: str) -> bytes:
    """`pdf` signed with the key file at `path`, made first (for `name`, `code`) if missing."""
    try:
        with _LOCK:
            if not path.is_file():
                create_key_file(path, name=name, code=code)
            # The kept key is used while the file is the one it was read from: a key file
            # restored or replaced on disk is read again, a deleted one is not signed with.
            identity = _identity(path)
            signer = _SIGNERS.get(path)
            if signer is None or signer.identity != identity:
                signer = _SIGNERS[path] = _ConsortiumSigner(path.read_bytes(), identity)
        return signer.sign(pdf)
    except Exception as exc:  # OSError, a broken key file, pyHanko's own errors
        raise SigningError(f"could not sign the PDF with {path.name}: {exc}") from exc


def _identity(path: Path) -> tuple:
    found = path.stat()
    return found.st_dev, found.st_ino, found.st_mtime_ns, found.st_size


def certificate_der(consortium_id: int) -> bytes | None:
    """The consortium's signing certificate (DER), or None while it has no key."""
    try:
        match = _PEM_CERTIFICATE.search(key_path(consortium_id).read_bytes())
    except FileNotFoundError:
        return None
    return base64.b64decode(match[1]) if match else None


def fingerprint_hex(consortium_id: int) -> str | None:
    """SHA-256 of the consortium's current signing certificate as 64 hex digits (as each
    certificate stores it), or None while the consortium has no key."""
    der = certificate_der(consortium_id)
    return hashlib.sha256(der).hexdigest().upper() if der is not None else None


def format_fingerprint(digest: str | None) -> str | None:
    """64 hex digits as colon-separated pairs, as PDF readers show a fingerprint."""
    if not digest:
        return None
    digest = digest.upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def fingerprint(consortium_id: int) -> str | None:
    """SHA-256 of the consortium's signing certificate as colon-separated hex pairs (as PDF
    readers show it), or None while the consortium has no key."""
    return format_fingerprint(fingerprint_hex(consortium_id))


def _fit(text: str, limit: int = 64) -> str:
    """`text` cut to at most `limit` bytes of UTF-8 (X.509's bound for these name parts, as
    cryptography counts it: a long Chinese name keeps its first 21 characters)."""
    return text.encode()[:limit].decode(errors="ignore")


def _new_key_pem(name: str, code: str) -> bytes:
    """A new ECDSA P-256 key and its self-signed certificate, as one PEM text."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, _fit(name or code)),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(name or code)),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, _fit(code)),
        ]
    )
    now = datetime.now(UTC).replace(microsecond=0)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # readers' clocks drift
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + certificate.public_bytes(serialization.Encoding.PEM)


def create_key_file(path: Path, *, name: str, code: str) -> None:
    """Write a new key file at `path` unless one appears first (then that one stands)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".new-", suffix=".pem")
    try:  # mkstemp makes the file with mode 0600
        with os.fdopen(handle, "wb") as out:
            out.write(_new_key_pem(name, code))
            out.flush()
            os.fsync(out.fileno())
        # Atomic, and fails if the file exists: of two racing processes one wins, and the
        # other reads the winner's key.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


class _ConsortiumSigner:
    """pyHanko's signer and signature settings for one key file, ready to sign."""

    def __init__(self, pem: bytes, identity: tuple = ()):
        from asn1crypto import keys as asn1_keys
        from asn1crypto import x509 as asn1_x509
        from cryptography.hazmat.primitives import serialization
        from pyhanko.sign import fields, signers
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        self.identity = identity
        private_key = serialization.load_pem_private_key(pem, password=None)
        der = base64.b64decode(_PEM_CERTIFICATE.search(pem)[1])
        pkcs8 = private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.signer = _signer_class()(
            private_key,
            signing_cert=asn1_x509.Certificate.load(der),
            signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
            # The signing certificate is embedded anyway; an empty registry embeds it once.
            cert_registry=SimpleCertificateStore(),
        )
        self.metadata = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
        )
        # Hex digits reserved for the CMS container (~1.2 KB): the certificate, its issuer name
        # twice more (signer identifier, signing-certificate-v2), the signature and ASN.1
        # framing. Reserving room ourselves saves pyHanko's trial signature; unused room is
        # zero padding.
        self.reserved = 2 * (2 * len(der) + 512)

    def sign(self, pdf: bytes) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers

        output = io.BytesIO()

        def signing():
            return signers.async_sign_pdf(
                IncrementalPdfFileWriter(io.BytesIO(pdf)),
                self.metadata,
                signer=self.signer,
                bytes_reserved=self.reserved,
                output=output,
            )

        _run_async(signing)
        return output.getvalue()


def _run_async(make_coroutine):
    """Run pyHanko's coroutine to the end. asyncio.run() refuses to start inside a running
    event loop (an async server, or the browser of the test suite in the same thread): then
    the coroutine runs on its own loop in a short-lived thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()


# The signed attributes of a PAdES B-B signature: all but the message digest depend only on
# the signer's certificate.
_PADES_ATTRIBUTES = frozenset({"content_type", "message_digest", "signing_certificate_v2"})


@functools.cache
def _signer_class():
    """pyHanko's SimpleSigner made cheaper for many signatures with one key (pyHanko is imported
    on first use: it takes ~0.7 s, which every process start would otherwise pay)."""
    from asn1crypto import algos, cms
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from pyhanko.sign import signers
    from pyhanko.sign.general import simple_cms_attribute

    class ReusingSigner(signers.SimpleSigner):
        """A SimpleSigner that keeps what does not change between its signatures.

        Measured per signature with pyHanko 0.38 and asn1crypto: composing the CMS signed
        attributes from Python values cost ~12 ms and the SignerInfo's identifiers ~3 ms,
        almost all of it asn1crypto re-serialising nested values. So the first signature is
        made entirely by pyHanko, and from its output the parts that depend only on the
        certificate (the content-type and signing-certificate-v2 attributes, the signer's
        identifier and algorithms) are kept as DER; later signatures reuse them around their
        own message digest and signature (~1 ms). Anything else (time-stamps, dry runs, other
        attributes) goes through pyHanko unchanged. SimpleSigner also parses its private key
        again for every signature (for RSA with a ~90 ms key check); this keeps the key object.
        """

        def __init__(self, private_key, **kwargs):
            super().__init__(**kwargs)
            self._private_key = private_key
            self._attributes: dict[tuple, list[bytes | None]] = {}
            self._signer_info: dict[str, tuple[bytes, bytes, bytes]] = {}

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            if mechanism.signature_algo == "ecdsa" and digest_algorithm == "sha256":
                return self._private_key.sign(data, ec.ECDSA(hashes.SHA256()))
            return super().sign_raw(data, digest_algorithm)

        async def signed_attrs(self, data_digest, digest_algorithm, *args, **kwargs):
            reusable = not args and not kwargs.get("dry_run") and not kwargs.get("timestamper")
            key = (digest_algorithm, kwargs.get("content_type"), kwargs.get("use_pades"))
            kept = self._attributes.get(key) if reusable else None
            if kept is not None:
                return cms.CMSAttributes(
                    [
                        cms.CMSAttribute.load(der)
                        if der is not None
                        else simple_cms_attribute("message_digest", data_digest)
                        for der in kept
                    ]
                )
            attributes = await super().signed_attrs(data_digest, digest_algorithm, *args, **kwargs)
            if reusable and {a["type"].native for a in attributes} <= _PADES_ATTRIBUTES:
                self._attributes[key] = [
                    None if a["type"].native == "message_digest" else a.dump() for a in attributes
                ]
            return attributes

        def signer_info(self, digest_algorithm: str, signed_attrs, signature):
            kept = self._signer_info.get(digest_algorithm)
            if kept is None:
                info = super().signer_info(digest_algorithm, signed_attrs, signature)
                self._signer_info[digest_algorithm] = (
                    info["sid"].dump(),
                    info["digest_algorithm"].dump(),
                    info["signature_algorithm"].dump(),
                )
                return info
            sid, digest, mechanism = kept
            return cms.SignerInfo(
                {
                    "version": "v1",
                    "sid": cms.SignerIdentifier.load(sid),
                    "digest_algorithm": algos.DigestAlgorithm.load(digest),
                    "signature_algorithm": algos.SignedDigestAlgorithm.load(mechanism),
                    "signed_attrs": signed_attrs,
                    "signature": signature,
                }
            )

    return ReusingSigner
