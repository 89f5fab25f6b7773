"""QR codes of pay pages (segno: pure Python, writes SVG and PNG without Pillow)."""

from __future__ import annotations

import io
from urllib.parse import quote


def pay_url(base_url: str, evse_uid: str, cpo: str | None = None) -> str:
    url = f"{base_url.rstrip('/')}/pay/{quote(evse_uid, safe='')}"
    return f"{url}?cpo={quote(cpo, safe='*')}" if cpo else url


def qr_code(url: str, kind: str, scale: int = 8) -> bytes:
    """The QR code of ``url`` as an SVG or PNG document."""
    import segno  # on the first QR code asked for, not in every serving process

    code = segno.make(url, error="m")
    buffer = io.BytesIO()
    if kind == "svg":
        code.save(buffer, kind="svg", scale=scale, border=4, xmldecl=True, svgclass=None, title=url)
    else:
        code.save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
