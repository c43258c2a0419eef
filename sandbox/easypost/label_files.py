"""Label files as EasyPost serves them from ``label_url``: a 4x6 label at 300 dpi, as PNG (the
default), PDF or ZPL (``options.label_format``), showing the carrier, service and tracking code."""

from __future__ import annotations

import functools
from io import BytesIO

from PIL import Image, ImageDraw

DPI = 300
SIZE = (4 * DPI, 6 * DPI)  # 4x6 inches, portrait
TYPES = {"png": "image/png", "pdf": "application/pdf", "zpl": "application/zpl"}


def file_type(label_format: str) -> str:
    """The label's ``label_file_type`` for the format asked (``PNG`` when none)."""
    return TYPES.get(label_format.lower(), "image/png")


@functools.lru_cache(maxsize=256)
def render(ext: str, carrier: str, service: str, tracking_code: str) -> bytes:
    """The label file of one label, in the format of its extension."""
    if ext == "zpl":
        head = f"^XA^CF0,60^FO50,50^FD{carrier} {service}^FS"
        return f"{head}^BY3^FO50,300^BCN,200,Y,N,N^FD{tracking_code}^FS^XZ\n".encode()
    img = Image.new("L", SIZE, 255)
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20, SIZE[0] - 20, SIZE[1] - 20), outline=0, width=8)
    draw.text((80, 80), f"{carrier} {service}", fill=0, font_size=90)
    draw.text((80, 260), "SHIP TO", fill=0, font_size=60)
    # a stand-in barcode: bars from the tracking code's digits
    x = 80
    for ch in tracking_code:
        width = 4 + (ord(ch) % 7) * 3
        draw.rectangle((x, 900, x + width, 1300), fill=0)
        x += width + 10
        if x > SIZE[0] - 100:
            break
    draw.text((80, 1360), tracking_code, fill=0, font_size=80)
    out = BytesIO()
    if ext == "pdf":
        img.save(out, format="PDF", resolution=DPI)
    else:
        img.save(out, format="PNG")
    return out.getvalue()
