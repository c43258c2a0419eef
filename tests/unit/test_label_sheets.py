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


Matrix = tuple[float, float, float, float, float, float]


def _mul(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def image_box(document: bytes) -> list[tuple[float, float, float, float]]:
    """Where each page draws its label image, in page points (left, bottom, right, top), read
    from the page's content stream (the transformation in force at ``Do``)."""
    boxes = []
    for page in PdfReader(BytesIO(document)).pages:
        ctm: Matrix = (1, 0, 0, 1, 0, 0)
        stack: list[Matrix] = []
        contents = page.get_contents()
        assert contents is not None
        for operands, op in contents.operations:  # type: ignore[attr-defined]
            if op == b"q":
                stack.append(ctm)
            elif op == b"Q":
                ctm = stack.pop()
            elif op == b"cm":
                ctm = _mul(tuple(float(x) for x in operands), ctm)  # type: ignore[arg-type]
            elif op == b"Do":
                a, b, c, d, e, f = ctm
                corners = [
                    (a * x + c * y + e, b * x + d * y + f) for x, y in ((0, 0), (1, 0), (0, 1), (1, 1))
                ]
                xs, ys = [p[0] for p in corners], [p[1] for p in corners]
                boxes.append((round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1)))
    return boxes


def test_labels_fill_the_page_or_are_centred_with_their_proportions_kept() -> None:
    full = (0.0, 0.0, PAGE_W, PAGE_H)
    assert image_box(merge_labels([png(RED, (1200, 1800))])) == [full]  # 4x6 at 300 dpi
    assert image_box(merge_labels([pdf(RED, (1200, 1800), 300)])) == [full]
    assert image_box(merge_labels([pdf(RED, (900, 600), 150)])) == [full]  # 6x4: turned upright
    assert image_box(merge_labels([png(RED, (600, 400))])) == [full]
    # 8.5 x 11 inches (612 x 792 pt): scaled by 288/612 to the page's width (792 -> 372.7 pt high),
    # centred top to bottom: (432 - 372.7) / 2 = 29.6 from the bottom
    assert image_box(merge_labels([pdf(RED, (850, 1100), 100)])) == [(0.0, 29.6, PAGE_W, 402.4)]
    # a square label: scaled to the page's width, centred
    assert image_box(merge_labels([pdf(RED, (400, 400), 100)])) == [(0.0, 72.0, PAGE_W, 360.0)]


def test_a_rotated_page_is_drawn_upright_on_the_page() -> None:
    reader = PdfReader(BytesIO(pdf(RED, (1200, 1800), 300)))
    rotated = reader.pages[0]
    rotated.rotate(90)  # shown landscape by its /Rotate
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_page(rotated)
    out = BytesIO()
    writer.write(out)
    merged = merge_labels([out.getvalue()])
    page = PdfReader(BytesIO(merged)).pages[0]
    assert page.rotation == 0
    assert image_box(merged) == [(0.0, 0.0, PAGE_W, PAGE_H)]
