"""Decoding image and label files into tensors, with errors that name the file."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np
import simplejpeg
import torch
from PIL import Image, UnidentifiedImageError

from ladkit.data.errors import DatasetError

# PIL modes that hold one class index per pixel (P = palette PNG such as VOC's, L = grey, I/I;16 =
# 16-bit maps). Anything else (RGB colour-coded labels) cannot be decoded to class ids.
LABEL_MODES = ("P", "L", "I", "I;16", "I;16B", "I;16L")


@contextlib.contextmanager
def _opened(path: Path, what: str = "image"):
    """The ``what`` (image, label) file open with PIL; a missing or undecodable file is a
    DatasetError naming it, and so is one whose header declares more pixels than PIL's bomb limit
    (a corrupt header, mostly)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                yield image
    except DatasetError:
        raise
    except FileNotFoundError:
        raise _missing(path, what) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DatasetError(f"{what} file {path} declares more pixels than PIL opens ({error}); the header is "
                           "corrupt (delete the file and re-run the dataset's prepare script), or for a really "
                           "huge image raise PIL.Image.MAX_IMAGE_PIXELS") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise _undecodable(path, error, what) from error


def _missing(path: Path, what: str = "image") -> DatasetError:
    return DatasetError(f"{what} file {path} is missing; re-run the dataset's prepare script")


def _undecodable(path: Path, error: Exception, what: str = "image") -> DatasetError:
    return DatasetError(f"cannot decode {what} file {path} ({error}); the file is corrupt or truncated, "
                        "delete it and re-run the dataset's prepare script")


def read_image(path: Path) -> torch.Tensor:
    """RGB image as a uint8 tensor (3, H, W).

    JPEGs decode with simplejpeg in strict mode: libjpeg-turbo's "corrupt data" warnings (garbage
    bytes in the entropy-coded data, a scan cut short) are errors there, where PIL and torchvision
    decode such a file silently into wrong pixels. Same library, same pixels as PIL for a sound
    file. CMYK JPEGs (which libjpeg cannot turn into RGB) and every other format go through PIL.
    """
    path = Path(path)
    array = _decoded_jpeg(path) if path.suffix.lower() in JPEG_SUFFIXES else None
    if array is None:
        with _opened(path) as image:
            array = np.asarray(image.convert("RGB"))
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


JPEG_SUFFIXES = (".jpg", ".jpeg")


def _decoded_jpeg(path: Path) -> np.ndarray | None:
    """The JPEG's RGB pixels (H, W, 3), None when libjpeg cannot give RGB (CMYK) or the file is no
    JPEG at all (PIL then decodes it, or names what it is); a corrupt JPEG is a DatasetError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _missing(path) from None
    try:
        colorspace = simplejpeg.decode_jpeg_header(data)[2]
    except ValueError:
        return None  # not a JPEG stream (a PNG named .jpg): PIL's turn
    if colorspace not in ("RGB", "YCbCr", "Gray"):
        return None
    try:
        return simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
    except ValueError as error:
        raise _undecodable(path, error) from None


def image_size(path: Path) -> torch.Tensor:
    """An empty (0, H, W) tensor of the image's size, read from its header (no pixels decoded)."""
    with _opened(path) as image:
        width, height = image.size
    return torch.empty(0, height, width)


def read_label(path: Path) -> torch.Tensor:
    """Single-channel class-index map as a tensor (H, W) with the file's own integer values.

    PIL keeps palette PNGs as indices (torchvision's decoder would expand them to RGB colours).
    """
    with _opened(path, "label") as image:
        if image.mode not in LABEL_MODES:
            raise DatasetError(f"label file {path} has image mode {image.mode!r}; expected a single-channel "
                               "class-index PNG (palette or greyscale), not colour-coded labels")
        array = np.array(image)
    # 16-bit maps come back as uint16/int32; torch has no uint16 indexing, so widen those.
    if array.dtype != np.uint8:
        array = array.astype(np.int64)
    return torch.from_numpy(array)


def check_same_size(image: torch.Tensor, label: torch.Tensor, image_path: Path, label_path: Path) -> None:
    image_size = tuple(image.shape[-2:])
    label_size = tuple(label.shape[-2:])
    if image_size != label_size:
        raise DatasetError(
            f"image {image_path} is {image_size[0]}x{image_size[1]} (HxW) but its label "
            f"{label_path} is {label_size[0]}x{label_size[1]}; one of the two files is wrong, "
            "re-run the dataset's prepare script"
        )


# ---------------------------------------------------------------- writing label maps

# VOC draws its void (255) pixels in this colour; our palette PNGs keep it so they look like VOC's.
VOC_VOID_COLOUR = (224, 224, 192)


def label_palette(colours, void_colour=VOC_VOID_COLOUR) -> list[int]:
    """Flat 768-entry PNG palette: class colours first, the void colour at 255, black elsewhere."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(colours)] = np.asarray(colours, dtype=np.uint8)
    table[255] = void_colour
    return table.reshape(-1).tolist()


def save_label_png(label: np.ndarray, path, palette: list[int] | None = None) -> None:
    """An 8-bit class-index PNG (what the readers read); with a palette it displays in colour and
    still reads back as the indices."""
    label = np.asarray(label)
    if label.ndim != 2 or label.size and (label.min() < 0 or label.max() > 255):
        raise ValueError(f"label for {path} is not a 2-D map of values 0..255")
    height, width = label.shape
    pixels = np.ascontiguousarray(label, dtype=np.uint8).tobytes()
    png = Image.frombytes("P" if palette is not None else "L", (width, height), pixels)
    if palette is not None:
        png.putpalette(palette)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    png.save(path, format="PNG", optimize=False)
