"""The kit's embedded default dataset: procedural shapes written in the PASCAL VOC layout.

Every image is rendered from ``(seed, index)`` alone, so generation is deterministic, parallel and
resumable, and the real VOC reader reads the result unchanged::

    root/VOCdevkit/VOC2012/JPEGImages/{id}.jpg
    root/VOCdevkit/VOC2012/SegmentationClass/{id}.png     palette PNG, value = class id, 255 = void
    root/VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val}.txt
    root/VOCdevkit/VOC2012/synthetic_meta.json            generation parameters + format version

The task is deliberately not trivial. Class identity lives in the *shape*; colour and texture are
only hints: each class prefers a hue but not always and not exclusively, the six textures are
shared by all classes with class-dependent odds, and the background is cluttered with textured
"distractor" shapes that are background class. Objects vary in scale and rotation, occlude one
another, some are thin (ring, bar, cross) or small, and every image gets blur, sensor noise and
brightness/contrast jitter. As in VOC, a thin void band (255) follows object boundaries. The
"scene knobs" below set the difficulty; change them only together with SYNTHETIC_VERSION.

Shapes are drawn from signed distance functions (SDFs) on a pixel grid: negative inside, in pixel
units. One SDF gives the label mask (d < 0), the anti-aliased coverage (0.5 - d) and the void band
(|d| small), so the three always agree.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from ladkit.constants import IGNORE_INDEX
from ladkit.data.errors import DatasetError

SYNTHETIC_CLASSES: list[str] = [
    "background", "disk", "ring", "square", "triangle", "star", "cross", "bar", "crescent",
]
SYNTHETIC_PALETTE: list[tuple[int, int, int]] = [
    (0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200),
    (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230),
]
# VOC draws its void (255) pixels in this colour; keeping it makes our PNGs look like VOC's.
VOC_VOID_COLOUR = (224, 224, 192)

# Bump whenever render_sample's output changes, so stale data on disk is detected via the meta.
# 1: early drafts (harder: colour hint 0.5/0.08, 2-5 smaller objects); 2: current knobs.
SYNTHETIC_VERSION = 2
META_FILENAME = "synthetic_meta.json"
# Val images use their own index range, so the val set does not change when num_train does.
VAL_INDEX_OFFSET = 1_000_000
JPEG_QUALITY = 95

# Scene knobs: these set how hard the task is. Counts are inclusive ranges; radii and blur are
# fractions of the image side, so a scene looks the same at any resolution.
OBJECTS_PER_IMAGE = (1, 4)
OBJECT_RADIUS = (0.13, 0.30)
DISTRACTORS_PER_IMAGE = (0, 2)
DISTRACTOR_RADIUS = (0.06, 0.2)
MAX_BLUR_SIGMA = 0.008
# Backgrounds are mostly duller than objects (so objects stand out, as in photos), but the
# saturation ranges overlap and some distractors are vivid: dullness is a hint, not a rule.
BACKGROUND_SATURATION, BACKGROUND_VALUE = (0.0, 0.45), (0.3, 0.85)
OBJECT_SATURATION, OBJECT_VALUE = (0.35, 1.0), (0.25, 1.0)
VIVID_DISTRACTOR_PROB = 0.25
SENSOR_NOISE_STD = (2.0, 6.0)  # in 0-255 grey levels

TEXTURES = ["plain", "stripes", "checker", "dots", "gradient", "speckle"]
# Odds of each texture per object class (rows follow SYNTHETIC_CLASSES[1:]). Every class can wear
# every texture, so texture is a hint, never the answer.
CLASS_TEXTURE_ODDS = np.array([
    # plain stripes checker dots gradient speckle
    [0.45, 0.05, 0.05, 0.30, 0.10, 0.05],  # disk
    [0.60, 0.05, 0.05, 0.05, 0.20, 0.05],  # ring
    [0.10, 0.10, 0.50, 0.10, 0.05, 0.15],  # square
    [0.15, 0.45, 0.05, 0.05, 0.25, 0.05],  # triangle
    [0.20, 0.05, 0.05, 0.45, 0.05, 0.20],  # star
    [0.50, 0.10, 0.05, 0.05, 0.25, 0.05],  # cross
    [0.15, 0.50, 0.05, 0.05, 0.20, 0.05],  # bar
    [0.20, 0.10, 0.15, 0.10, 0.15, 0.30],  # crescent
])
# Each class prefers a hue, but a quarter of its objects take any hue, preferred hues are only 45
# degrees apart and loosely kept. Colour is a hint that makes early learning quick (a per-pixel
# colour classifier gets ~35% of object pixels right, chance 12.5%); the rest takes shape.
# Tuning note: at 0.5 / 0.08 a small CNN at ~600 iterations stayed near 20% mIoU; at 1.0 / 0.01
# (colour-coded) it reached 76%.
PREFERRED_HUE_PROB = 0.75
PREFERRED_HUE_SPREAD = 0.05  # std of the hue around the preference, as a fraction of the circle


# ---------------------------------------------------------------------------------------------
# Signed distance functions. Arguments u, v are pixel coordinates in the shape's own frame.
# ---------------------------------------------------------------------------------------------

def sdf_circle(u, v, radius):
    return np.hypot(u, v) - radius


def sdf_box(u, v, half_width, half_height):
    qx, qy = np.abs(u) - half_width, np.abs(v) - half_height
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    inside = np.minimum(np.maximum(qx, qy), 0)
    return outside + inside


def sdf_polygon(u, v, vertices):
    """Exact SDF of a simple polygon: distance to the nearest edge, negative inside (even-odd)."""
    distance_sq = np.full(u.shape, np.inf)
    inside = np.zeros(u.shape, dtype=bool)
    for (ax, ay), (bx, by) in zip(vertices, np.roll(vertices, -1, axis=0)):
        ex, ey = bx - ax, by - ay
        px, py = u - ax, v - ay
        t = np.clip((px * ex + py * ey) / (ex * ex + ey * ey), 0.0, 1.0)
        distance_sq = np.minimum(distance_sq, (px - t * ex) ** 2 + (py - t * ey) ** 2)
        crosses = (ay > v) != (by > v)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at_v = ax + (v - ay) * ex / ey
        inside ^= crosses & (u < x_at_v)
    return np.where(inside, -1.0, 1.0) * np.sqrt(distance_sq)


def regular_star(points, outer, inner):
    angles = np.arange(2 * points) * np.pi / points - np.pi / 2
    radii = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


# ---------------------------------------------------------------------------------------------
# Object classes: each draws its own proportions from the scene rng and returns an SDF.
# `size` is the object's radius in pixels; `min_stroke` keeps thin parts at least ~2 px wide.
# ---------------------------------------------------------------------------------------------

def shape_disk(u, v, size, min_stroke, rng):
    return sdf_circle(u, v, size)


def shape_ring(u, v, size, min_stroke, rng):
    stroke = max(rng.uniform(0.15, 0.35) * size, min_stroke)
    return np.abs(np.hypot(u, v) - size + stroke / 2) - stroke / 2


def shape_square(u, v, size, min_stroke, rng):
    aspect = rng.uniform(0.85, 1.15)  # near-square, so a square never looks like a bar
    half = size / np.sqrt(2)
    return sdf_box(u, v, half * aspect, half / aspect)


def shape_triangle(u, v, size, min_stroke, rng):
    angles = np.array([-90.0, 30.0, 150.0]) + rng.uniform(-12, 12, size=3)
    angles = np.deg2rad(angles)
    return sdf_polygon(u, v, np.stack([size * np.cos(angles), size * np.sin(angles)], axis=1))


def shape_star(u, v, size, min_stroke, rng):
    points = int(rng.choice([5, 6]))
    return sdf_polygon(u, v, regular_star(points, size, size * rng.uniform(0.38, 0.55)))


def shape_cross(u, v, size, min_stroke, rng):
    half_stroke = max(rng.uniform(0.10, 0.22) * size, min_stroke / 2)
    return np.minimum(sdf_box(u, v, size, half_stroke), sdf_box(u, v, half_stroke, size))


def shape_bar(u, v, size, min_stroke, rng):
    half_stroke = max(rng.uniform(0.12, 0.28) * size, min_stroke / 2)
    return sdf_box(u, v, size * 1.3, half_stroke)


def shape_crescent(u, v, size, min_stroke, rng):
    bite_radius = size * rng.uniform(0.70, 0.95)
    bite_offset = size * rng.uniform(0.35, 0.60)
    return np.maximum(sdf_circle(u, v, size), -sdf_circle(u - bite_offset, v, bite_radius))


SHAPES = [shape_disk, shape_ring, shape_square, shape_triangle,
          shape_star, shape_cross, shape_bar, shape_crescent]  # order of SYNTHETIC_CLASSES[1:]
SHAPE_REACH = 1.35  # no object extends further than this many radii from its centre (bar: 1.33)
# Radius multipliers that give thin classes more size, so class pixel shares are less skewed.
SHAPE_SCALE = [0.85, 1.15, 0.95, 1.15, 1.15, 1.2, 1.3, 1.05]


# Distractors are background class; they make "any textured blob" a wrong answer.
def distractor_ellipse(u, v, size, min_stroke, rng):
    aspect = rng.uniform(1.8, 3.5)  # clearly elongated, so it is not a disk
    semi_major, semi_minor = size, size / aspect
    # Scaled implicit equation: exact on the outline, close enough nearby for anti-aliasing.
    return (np.hypot(u / semi_major, v / semi_minor) - 1.0) * semi_minor


def distractor_blob(u, v, size, min_stroke, rng):
    count = rng.integers(7, 12)
    angles = np.sort(rng.uniform(0, 2 * np.pi, count))
    radii = size * rng.uniform(0.45, 1.0, count)
    return sdf_polygon(u, v, np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1))


def distractor_line(u, v, size, min_stroke, rng):
    half_stroke = max(rng.uniform(0.5, 2.5) * min_stroke, min_stroke / 2)
    return sdf_box(u, v, size * 8, half_stroke)  # long enough to cross the whole image


# (shape, how many radii it reaches from its centre)
DISTRACTORS = [(distractor_ellipse, 1.0), (distractor_blob, 1.0), (distractor_line, 8.0)]


# ---------------------------------------------------------------------------------------------
# Colours and textures
# ---------------------------------------------------------------------------------------------

def hsv_to_rgb(hue, saturation, value):
    """Scalar HSV (all in [0, 1]) to an RGB float array in [0, 1]."""
    channel = (np.array([5.0, 3.0, 1.0]) + hue * 6.0) % 6.0
    return value - value * saturation * np.clip(np.minimum(channel, 4.0 - channel), 0.0, 1.0)


def random_colour(rng, saturation, value, hue=None):
    if hue is None:
        hue = rng.uniform()
    return hsv_to_rgb(hue % 1.0, rng.uniform(*saturation), rng.uniform(*value))


def background_colour(rng):
    return random_colour(rng, BACKGROUND_SATURATION, BACKGROUND_VALUE)


def vivid_colour(rng, hue=None):
    return random_colour(rng, OBJECT_SATURATION, OBJECT_VALUE, hue)


def object_colours(rng, class_id):
    """Two colours for an object's texture; the hue only loosely depends on the class."""
    hue = None
    if rng.uniform() < PREFERRED_HUE_PROB:
        hue = (class_id - 1) / 8 + rng.normal(0, PREFERRED_HUE_SPREAD)
    first = vivid_colour(rng, hue)
    if rng.uniform() < 0.5:
        second = np.clip(first * rng.uniform(0.3, 0.7) + rng.uniform(0, 0.3), 0, 1)  # same hue
    else:
        second = vivid_colour(rng)
    return first, second


def distractor_colours(rng):
    """Mostly background-like colours, but some distractors are as vivid as objects."""
    pick = vivid_colour if rng.uniform() < VIVID_DISTRACTOR_PROB else background_colour
    return pick(rng), pick(rng)


def render_texture(kind, u, v, first, second, extent, size, rng):
    """An (H, W, 3) float image: `first`/`second` laid out in the object frame (u, v)."""
    angle = rng.uniform(0, np.pi)
    along = u * np.cos(angle) + v * np.sin(angle)
    across = -u * np.sin(angle) + v * np.cos(angle)
    period = size * rng.uniform(0.045, 0.11)
    if kind == "plain":
        mix = np.zeros(u.shape)
    elif kind == "stripes":
        mix = (np.sin(2 * np.pi * along / period) > 0).astype(float)
    elif kind == "checker":
        mix = ((np.floor(along / period) + np.floor(across / period)) % 2).astype(float)
    elif kind == "dots":
        dx = (along / period) % 1.0 - 0.5
        dy = (across / period) % 1.0 - 0.5
        mix = (np.hypot(dx, dy) < rng.uniform(0.2, 0.4)).astype(float)
    elif kind == "gradient":
        mix = np.clip(0.5 + along / (2 * extent), 0.0, 1.0)
    elif kind == "speckle":
        # A child rng, so the pixel count does not shift later scene draws (scene ~ resolution).
        mix = np.random.default_rng(rng.integers(2**63)).uniform(size=u.shape) ** 2
    else:
        raise ValueError(f"unknown texture {kind!r}")
    return first + mix[..., None] * (second - first)


def smooth_noise(rng, size, cells=5):
    """Low-frequency noise of std about 1: a coarse random grid, bicubically upsampled."""
    coarse = Image.fromarray(rng.standard_normal((cells, cells)).astype(np.float32))  # mode "F"
    return np.asarray(coarse.resize((size, size), Image.BICUBIC), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Scene rendering
# ---------------------------------------------------------------------------------------------

def render_background(rng, yy, xx, size):
    """Two-colour gradient plus low-frequency noise, sometimes with a faint full-image pattern."""
    first, second = background_colour(rng), background_colour(rng)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = ((xx * np.cos(angle) + yy * np.sin(angle)) / size + 1) / 2
    image = first + np.clip(ramp, 0, 1)[..., None] * (second - first)
    image += rng.uniform(0.03, 0.12) * smooth_noise(rng, size)[..., None]
    if rng.uniform() < 0.3:
        kind = rng.choice(["stripes", "checker", "dots"])
        pattern = render_texture(kind, xx, yy, np.zeros(3), np.ones(3), size, size, rng)
        image += rng.uniform(0.05, 0.15) * (pattern - 0.5)
    return image


def place(rng, size, scale_range, reach):
    """Random centre, rotation and radius for a shape reaching `reach` radii from its centre.

    Returns the image window the shape can touch, shape-frame coordinates of that window's pixel
    centres, and the radius. Working on the window only is what keeps rendering fast.
    """
    cy, cx = rng.uniform(0.05, 0.95, size=2) * size
    angle = rng.uniform(0, 2 * np.pi)
    radius = size * np.exp(rng.uniform(*np.log(scale_range)))
    half = reach * radius + 2  # + anti-aliasing margin
    rows = slice(max(0, int(cy - half)), min(size, int(np.ceil(cy + half))))
    cols = slice(max(0, int(cx - half)), min(size, int(np.ceil(cx + half))))
    yy, xx = np.mgrid[rows, cols] + 0.5
    dy, dx = yy - cy, xx - cx
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    return (rows, cols), u, v, radius


def paint(image, sdf, texture):
    """Alpha-composite a texture into `image` with anti-aliased edges from the SDF."""
    coverage = np.clip(0.5 - sdf, 0.0, 1.0)[..., None]
    image += coverage * (texture - image)


def add_distractors(rng, image, size, min_stroke):
    for _ in range(rng.integers(DISTRACTORS_PER_IMAGE[0], DISTRACTORS_PER_IMAGE[1] + 1)):
        draw, reach = DISTRACTORS[rng.integers(len(DISTRACTORS))]
        window, u, v, radius = place(rng, size, DISTRACTOR_RADIUS, reach)
        sdf = draw(u, v, radius, min_stroke, rng)
        first, second = distractor_colours(rng)
        kind = TEXTURES[rng.integers(len(TEXTURES))]
        paint(image[window], sdf, render_texture(kind, u, v, first, second, radius, size, rng))


def add_objects(rng, image, label, void, size, min_stroke, void_half_width):
    """Draws a few objects; later ones occlude earlier ones, in the image, label and void band."""
    for _ in range(rng.integers(OBJECTS_PER_IMAGE[0], OBJECTS_PER_IMAGE[1] + 1)):
        class_id = int(rng.integers(1, len(SYNTHETIC_CLASSES)))
        scale = SHAPE_SCALE[class_id - 1]
        radius_range = (OBJECT_RADIUS[0] * scale, OBJECT_RADIUS[1] * scale)
        window, u, v, radius = place(rng, size, radius_range, SHAPE_REACH)
        sdf = SHAPES[class_id - 1](u, v, radius, min_stroke, rng)
        first, second = object_colours(rng, class_id)
        kind = TEXTURES[rng.choice(len(TEXTURES), p=CLASS_TEXTURE_ODDS[class_id - 1])]
        paint(image[window], sdf, render_texture(kind, u, v, first, second, radius, size, rng))
        label[window][sdf < 0] = class_id
        # The object hides the void band of whatever it covers and brings its own outline.
        void[window][sdf < -void_half_width] = False
        void[window][np.abs(sdf) < void_half_width] = True


def degrade(rng, image, size):
    """Camera effects: contrast/brightness/white-balance jitter, blur, then sensor noise."""
    mean = image.mean()
    image = (image - mean) * rng.uniform(0.7, 1.3) + mean + rng.uniform(-0.12, 0.12)
    image = image * rng.uniform(0.9, 1.1, size=3)
    pixels = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8))
    pixels = pixels.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, MAX_BLUR_SIGMA) * size))
    noise = rng.normal(0, rng.uniform(*SENSOR_NOISE_STD), image.shape)
    noisy = np.asarray(pixels, dtype=np.float32) + noise
    return np.clip(noisy, 0, 255).round().astype(np.uint8)


def render_sample(seed: int, index: int, size: int, *, ignore_border: float = 1.0):
    """One (image (H,W,3) uint8, label (H,W) uint8) pair, determined by (seed, index, size).

    Labels hold class ids, and IGNORE_INDEX on a band ``ignore_border`` pixels wide centred on
    visible object outlines (0 turns the band off). Geometry is drawn in units of `size`, so one
    (seed, index) shows the same scene at any resolution.
    """
    scene_rng, camera_rng = (np.random.default_rng(s)
                             for s in np.random.SeedSequence([seed, index]).spawn(2))
    yy, xx = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    min_stroke = max(2.0, 0.025 * size)  # thin parts still keep a labelled core at 96 px
    image = render_background(scene_rng, yy, xx, size)
    add_distractors(scene_rng, image, size, min_stroke)
    label = np.zeros((size, size), dtype=np.uint8)
    void = np.zeros((size, size), dtype=bool)
    add_objects(scene_rng, image, label, void, size, min_stroke, ignore_border / 2)
    label[void] = IGNORE_INDEX
    return degrade(camera_rng, image, size), label


# ---------------------------------------------------------------------------------------------
# Writing the VOC layout
# ---------------------------------------------------------------------------------------------

def voc_label_palette() -> list[int]:
    """768 palette bytes: our class colours, black elsewhere, VOC's void colour at 255."""
    palette = [0] * 768
    for class_id, colour in enumerate(SYNTHETIC_PALETTE):
        palette[3 * class_id:3 * class_id + 3] = colour
    palette[3 * IGNORE_INDEX:3 * IGNORE_INDEX + 3] = VOC_VOID_COLOUR
    return palette


def save_label_png(label: np.ndarray, path: Path) -> None:
    height, width = label.shape
    png = Image.frombytes("P", (width, height), np.ascontiguousarray(label).tobytes())
    png.putpalette(voc_label_palette())
    png.save(path, optimize=False)


def split_items(num_train: int, num_val: int) -> dict[str, list[tuple[str, int]]]:
    """(file id, sample index) per split."""
    return {
        "train": [(f"train_{i:06d}", i) for i in range(num_train)],
        "val": [(f"val_{i:06d}", VAL_INDEX_OFFSET + i) for i in range(num_val)],
    }


def write_samples(voc_dir: Path, items: list[tuple[str, int]], seed: int, size: int,
                  ignore_border: float) -> None:
    for sample_id, index in items:
        image, label = render_sample(seed, index, size, ignore_border=ignore_border)
        Image.fromarray(image).save(voc_dir / "JPEGImages" / f"{sample_id}.jpg",
                                    quality=JPEG_QUALITY)
        save_label_png(label, voc_dir / "SegmentationClass" / f"{sample_id}.png")


def write_all_samples(voc_dir: Path, items, seed, size, ignore_border, num_workers) -> None:
    if num_workers <= 1:
        write_samples(voc_dir, items, seed, size, ignore_border)
        return
    chunks = [items[start::num_workers * 4] for start in range(num_workers * 4)]
    with ProcessPoolExecutor(num_workers) as pool:
        jobs = [pool.submit(write_samples, voc_dir, chunk, seed, size, ignore_border)
                for chunk in chunks if chunk]
        for job in jobs:
            job.result()  # re-raises a worker's error here


def ensure_synthetic(root: str | os.PathLike) -> Path:
    """The synthetic default under `root`, generated on first use; returns the VOC2012 folder.

    Data made by another generator version is refused (it would silently change every number);
    data made with other sizes or counts (e.g. the tests' tiny sets) is used as is. Safe to call
    from several processes at once: each generates into its own staging folder.
    """
    voc_dir = Path(root) / "VOCdevkit" / "VOC2012"
    found = read_meta(voc_dir)
    if found is None:
        return make_synthetic(root)
    if found.get("version") != SYNTHETIC_VERSION:
        raise DatasetError(
            f"{voc_dir / META_FILENAME}: synthetic data version {found.get('version')} is stale "
            f"(this ladkit makes version {SYNTHETIC_VERSION}); regenerate it with "
            f"`ladkit make-synthetic --out {root} --overwrite`")
    return voc_dir


def expected_meta(num_train, num_val, size, seed, ignore_border) -> dict:
    return {
        "dataset": "ladkit-synthetic",
        "version": SYNTHETIC_VERSION,
        "num_train": int(num_train),
        "num_val": int(num_val),
        "size": int(size),
        "seed": int(seed),
        "ignore_border": float(ignore_border),
        "classes": SYNTHETIC_CLASSES,
    }


def read_meta(voc_dir: str | os.PathLike) -> dict | None:
    """The meta of a generated dataset, or None if `voc_dir` holds no finished synthetic data."""
    path = Path(voc_dir) / META_FILENAME
    return json.loads(path.read_text()) if path.is_file() else None


def generate_into(voc_dir: Path, meta: dict, num_workers: int) -> None:
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc_dir / sub).mkdir(parents=True)
    for split, items in split_items(meta["num_train"], meta["num_val"]).items():
        ids = "".join(f"{sample_id}\n" for sample_id, _ in items)
        (voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt").write_text(ids)
    all_items = [item for items in split_items(meta["num_train"], meta["num_val"]).values()
                 for item in items]
    write_all_samples(voc_dir, all_items, meta["seed"], meta["size"], meta["ignore_border"],
                      num_workers)
    (voc_dir / META_FILENAME).write_text(json.dumps(meta, indent=2) + "\n")


def check_existing(voc_dir: Path, meta: dict, overwrite: bool) -> bool:
    """True if `voc_dir` already holds exactly this dataset; raises if it holds something else."""
    if not voc_dir.exists():
        return False
    found = read_meta(voc_dir)
    if found is None:
        # Not made by us (finished generations always have a meta): never delete someone's data.
        raise ValueError(
            f"{voc_dir} exists but has no {META_FILENAME}, so it is not a synthetic dataset "
            f"made by ladkit (perhaps real VOC data). Refusing to touch it; choose another root.")
    if found == meta:
        return True
    if not overwrite:
        changed = sorted(k for k in meta if found.get(k) != meta[k])
        raise ValueError(
            f"{voc_dir} holds a synthetic dataset made with different parameters "
            f"(differs in: {', '.join(changed)}; on disk: {found}). Pass overwrite=True "
            f"(CLI: --overwrite) to regenerate it, or choose another root.")
    return False


def make_synthetic(root, *, num_train: int = 800, num_val: int = 200, size: int = 96,
                   seed: int = 0, overwrite: bool = False, ignore_border: float = 1.0,
                   num_workers: int = 0) -> Path:
    """Generates the synthetic dataset under `root` in VOC layout; returns the VOC2012 folder.

    Existing data with the same parameters is reused as is. Generation goes to a temporary
    sibling folder that is renamed into place only when complete (meta written last), so an
    interrupted run never looks finished. `num_workers` > 1 renders in parallel processes; the
    output does not depend on it.
    """
    meta = expected_meta(num_train, num_val, size, seed, ignore_border)
    voc_dir = Path(root) / "VOCdevkit" / "VOC2012"
    if check_existing(voc_dir, meta, overwrite):
        return voc_dir
    staging = voc_dir.with_name(f".VOC2012.partial-{uuid.uuid4().hex[:8]}")
    try:
        generate_into(staging, meta, num_workers)
        if voc_dir.exists():  # overwrite=True and check_existing vetted it as ours
            shutil.rmtree(voc_dir)
        os.rename(staging, voc_dir)
    except OSError:
        # Another process may have finished the same dataset first; theirs is as good as ours.
        if read_meta(voc_dir) != meta:
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return voc_dir
