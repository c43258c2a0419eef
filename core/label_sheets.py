"""Label sheets: purchased label files (PDF or PNG/JPEG/GIF images) merged into one PDF for
printing, one 4x6 inch page (288 x 432 points) per label, in the order given.

Pure: bytes in, bytes out. pypdf merges and fits PDF pages; Pillow turns an image into a PDF
page at the resolution that makes it 4x6. A landscape label (6x4) is turned upright; a label
of another size is scaled to fit the page, keeping its proportions, centred.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO

from PIL import Image
from pypdf import PageObject, PdfReader, PdfWriter, Transformation
from pypdf.errors import PdfReadError
from pypdf.generic import RectangleObject

PAGE_W = 288.0  # 4 inches in points
PAGE_H = 432.0  # 6 inches
PDF = "application/pdf"
MAX_PIXELS = 40_000_000  # a 4x6 label at 600 dpi is 8.6 million


class LabelFileError(ValueError):
    """A label file that is not a PDF or an image, or cannot be read."""


def kind_of(content: bytes) -> str:
    """The file's type from its first bytes: ``application/pdf``, ``image/png``... or ``unknown``."""
    head = content[:8]
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.lstrip().startswith(b"^XA"):
        return "application/zpl"
    return "unknown"


def image_page(content: bytes) -> bytes:
    """A one-page 4x6 PDF of a label image (upright, scaled to fit, on white)."""
    try:
        with Image.open(BytesIO(content)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise LabelFileError(f"label image too large ({opened.width} x {opened.height} pixels)")
            img = opened.convert("RGB")
    except (OSError, Image.DecompressionBombError) as exc:
        raise LabelFileError(f"label image unreadable: {exc}") from exc
    if img.width > img.height:
        img = img.rotate(90, expand=True)
    dpi = max(img.width / 4, img.height / 6)
    canvas = Image.new("RGB", (max(1, round(4 * dpi)), max(1, round(6 * dpi))), "white")
    canvas.paste(img, ((canvas.width - img.width) // 2, (canvas.height - img.height) // 2))
    out = BytesIO()
    canvas.save(out, format="PDF", resolution=dpi)
    return out.getvalue()


def merge_labels(files: Sequence[bytes]) -> bytes:
    """One PDF holding every label of ``files`` in order, each page 4x6 inches."""
    writer = PdfWriter()
    for number, content in enumerate(files, 1):
        kind = kind_of(content)
        if kind.startswith("image/"):
            content = image_page(content)
        elif kind != PDF:
            raise LabelFileError(f"label {number} is not a PDF or an image ({kind}); it cannot be merged")
        try:
            reader = PdfReader(BytesIO(content))
            pages = list(reader.pages)
        except (PdfReadError, ValueError, KeyError) as exc:
            raise LabelFileError(f"label {number} is not a readable PDF: {exc}") from exc
        for page in pages:
            added = writer.add_page(page)
            _fit(added)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _fit(page: PageObject) -> None:
    """Make ``page`` exactly 4x6 inches: upright, scaled to fit, centred."""
    if page.rotation:
        page.transfer_rotation_to_content()
    box = page.mediabox
    width, height = float(box.width), float(box.height)
    left, bottom = float(box.left), float(box.bottom)
    moved = Transformation().translate(-left, -bottom)
    if width > height:  # a landscape label: turn it upright
        moved = moved.rotate(90).translate(height, 0)
        width, height = height, width
    factor = min(PAGE_W / width, PAGE_H / height)
    moved = moved.scale(factor, factor).translate(
        (PAGE_W - width * factor) / 2, (PAGE_H - height * factor) / 2
    )
    page.add_transformation(moved)
    rect = RectangleObject((0, 0, PAGE_W, PAGE_H))
    page.mediabox = rect
    page.cropbox = rect
    page.trimbox = rect
    page.bleedbox = rect
    page.artbox = rect
