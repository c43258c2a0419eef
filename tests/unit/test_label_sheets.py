"""Label sheets: PNG and PDF label files merged into one PDF, one 4x6 page per label, in order."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image
from pypdf import PdfReader

from core.label_sheets import PAGE_H, PAGE_W, LabelFileError, kind_of, merge_labels

RED, GREEN, BLUE, GREY = (200, 0, 0), (0, 160, 0), (0, 0, 200), (90, 90, 90)


def png(colour: tuple[int, int, int], size: tuple[int, int] = (400, 600)) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def pdf(colour: tuple[int, int, int], size: tuple[int, int] = (400, 600), dpi: float = 100) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, colour).save(out, format="PDF", resolution=dpi)
    return out.getvalue()


def nearest(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """The test colour closest to ``colour`` (images in a PDF may be JPEG-compressed)."""
    return min(
        (RED, GREEN, BLUE, GREY), key=lambda c: sum((a - b) ** 2 for a, b in zip(c, colour, strict=True))
    )


def pages(document: bytes) -> list[tuple[float, float, tuple[int, int, int]]]:
    """Each page's size in points and the colour at the middle of its image."""
    found = []
    for page in PdfReader(BytesIO(document)).pages:
        (image,) = page.images
        img = image.image.convert("RGB")
        middle = img.getpixel((img.width // 2, img.height // 2))
        assert isinstance(middle, tuple)
        found.append((float(page.mediabox.width), float(page.mediabox.height), nearest(middle)))
    return found


def test_png_and_pdf_labels_become_one_4x6_page_each_in_the_order_given() -> None:
    merged = merge_labels([png(RED), pdf(GREEN), png(BLUE), pdf(GREY, (1200, 1800), 300)])
    assert kind_of(merged) == "application/pdf"
    assert pages(merged) == [
        (PAGE_W, PAGE_H, RED),
        (PAGE_W, PAGE_H, GREEN),
        (PAGE_W, PAGE_H, BLUE),
        (PAGE_W, PAGE_H, GREY),
    ]
    assert (PAGE_W, PAGE_H) == (288, 432)  # 4 x 6 inches


def test_every_page_of_a_multi_page_label_pdf_is_kept_in_place() -> None:
    two_pages = merge_labels([pdf(RED), pdf(GREEN)])
    merged = merge_labels([png(BLUE), two_pages, png(GREY)])
    assert [colour for _, _, colour in pages(merged)] == [BLUE, RED, GREEN, GREY]


def test_a_landscape_or_letter_size_label_is_fitted_to_the_4x6_page() -> None:
    landscape = png(RED, (600, 400))
    letter = pdf(GREEN, (850, 1100), 100)  # 8.5 x 11 inches
    wide_pdf = pdf(BLUE, (900, 600), 150)  # 6 x 4 inches
    merged = merge_labels([landscape, letter, wide_pdf])
    assert [(w, h) for w, h, _ in pages(merged)] == [(PAGE_W, PAGE_H)] * 3
    reader = PdfReader(BytesIO(merged))
    # the landscape image was turned upright: its picture is taller than wide
    upright = reader.pages[0].images[0].image
    assert upright.height > upright.width


def test_a_label_that_is_neither_pdf_nor_image_is_refused_with_its_position() -> None:
    with pytest.raises(LabelFileError, match=r"label 2 .*application/zpl"):
        merge_labels([png(RED), b"^XA^FO50,50^FDhello^FS^XZ"])
    with pytest.raises(LabelFileError, match="label 1"):
        merge_labels([b"%PDF-1.4 this is not a pdf"])
    with pytest.raises(LabelFileError, match="unreadable"):
        merge_labels([b"\x89PNG\r\n\x1a\n broken"])


def test_kind_of_reads_the_first_bytes() -> None:
    assert kind_of(png(RED)) == "image/png"
    assert kind_of(pdf(RED)) == "application/pdf"
    assert kind_of(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert kind_of(b"GIF89a...") == "image/gif"
    assert kind_of(b"hello") == "unknown"
