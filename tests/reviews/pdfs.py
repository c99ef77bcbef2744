"""Hand-built PDF fixtures: real, minimal PDF 1.4 files written byte by byte.

``text_pdf`` writes pages of Helvetica text; ``image_only_pdf`` a "scanned" page that holds only
an image; ``encrypted_pdf`` a genuinely encrypted file (standard security handler, revision 2,
40-bit RC4, user password ``secret``) whose content streams are encrypted; ``zero_page_pdf`` a
valid document with an empty page tree. Offsets in the xref tables are computed, so every file
is well formed unless a test damages it on purpose.
"""

from __future__ import annotations

import hashlib
import zlib

_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _content(lines: list[str]) -> bytes:
    ops = ["BT", "/F1 11 Tf", "14 TL", "56 780 Td"]
    for line in lines:
        ops.append(f"({_escape(line)}) Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def _assemble(objects: list[bytes], root: int, trailer_extra: bytes = b"") -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root {root} 0 R ".encode()
        + trailer_extra
        + f">>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def _stream(data: bytes, extra: str = "") -> bytes:
    return f"<< /Length {len(data)} {extra}>>\nstream\n".encode() + data + b"\nendstream"


def text_pdf(pages: list[list[str]]) -> bytes:
    """A PDF whose page ``i`` shows the lines ``pages[i]`` (Helvetica 11 pt)."""
    n = len(pages)
    # 1 catalog, 2 pages, 3 font, then (page, content) pairs
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(_stream(_content(lines)))
    return _assemble(objects, root=1)


def zero_page_pdf() -> bytes:
    """A well-formed PDF with an empty page tree."""
    return _assemble(
        [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"], root=1
    )


def image_only_pdf(pages: int = 2) -> bytes:
    """A "scanned" PDF: every page draws an 8x8 grey image and holds no text at all."""
    pixels = zlib.compress(bytes((x * 29 + y * 7) % 256 for y in range(8) for x in range(8)))
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        _stream(
            pixels,
            "/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray "
            "/BitsPerComponent 8 /Filter /FlateDecode ",
        ),
    ]
    for i in range(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /XObject << /Im1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(_stream(b"q 500 0 0 700 48 70 cm /Im1 Do Q"))
    return _assemble(objects, root=1)


def encrypted_pdf(
    lines: list[str], user_password: str = "secret", owner_password: str = "owner"
) -> bytes:
    """A one-page text PDF encrypted with the standard security handler (R2, 40-bit RC4)."""
    file_id = hashlib.md5(b"rca-test-encrypted").digest()
    permissions = -44  # print and copy denied, the rest allowed (PDF 1.7, table 22)
    # Algorithm 3: the /O value
    owner_key = hashlib.md5((owner_password.encode() + _PAD)[:32]).digest()[:5]
    o_value = _rc4(owner_key, (user_password.encode() + _PAD)[:32])
    # Algorithm 2: the file key
    digest = hashlib.md5(
        (user_password.encode() + _PAD)[:32]
        + o_value
        + permissions.to_bytes(4, "little", signed=True)
        + file_id
    ).digest()
    key = digest[:5]
    # Algorithm 4: the /U value
    u_value = _rc4(key, _PAD)

    def obj_key(number: int) -> bytes:
        return hashlib.md5(key + number.to_bytes(3, "little") + (0).to_bytes(2, "little")).digest()[
            :10
        ]

    content = _rc4(obj_key(5), _content(lines))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        _stream(content),
        f"<< /Filter /Standard /V 1 /R 2 /O <{o_value.hex()}> /U <{u_value.hex()}> "
        f"/P {permissions} >>".encode(),
    ]
    return _assemble(
        objects,
        root=1,
        trailer_extra=f"/Encrypt 6 0 R /ID [<{file_id.hex()}> <{file_id.hex()}>] ".encode(),
    )


def corrupt_pdf() -> bytes:
    """A PDF header followed by garbage and a truncated body (no xref, no trailer)."""
    good = text_pdf([["This file is cut short."]])
    return good[: len(good) // 3] + b"\x00\xff garbage \x13\x37"


#: Two pages of a small design document (ECS, RDS Multi-AZ, backups, alarms, deployments): enough
#: text for the heuristic assessor to find evidence in reliability and operations questions.
DESIGN_PAGES = [
    [
        "Order service design",
        "The order service runs on Amazon ECS across three Availability Zones.",
        "The PostgreSQL database is Amazon RDS Multi-AZ with automated backups every day.",
        "AWS Backup copies snapshots to a second Region; restores are tested every quarter.",
    ],
    [
        "Operations",
        "CloudWatch alarms page the on-call engineer; runbooks describe each recovery step.",
        "Deployments are automated with CodePipeline and roll back on failed health checks.",
        "Quotas for ECS tasks and RDS connections are monitored and raised before launches.",
    ],
]
