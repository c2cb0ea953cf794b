"""The kit's embedded default dataset, camouflaged materials: its designs and its renderer.

Every sample is rendered from ``(seed, index)`` alone, as arrays (image, clean label, and the
train/val label with the design's annotation errors), so generation is deterministic, parallel and
resumable. ladkit.data.synthetic_store writes them in the PASCAL VOC layout and keeps that data
in step with its design.

Why it is built this way (docs/configuration.md "The embedded default"): LAD's teacher gets the
label's *partition* (which pixels belong together), never the class. So the data makes the
partition what the image leaves ambiguous, and the class what only the image tells:

- **Class = material.** Each of the five object classes is a material: a preferred hue (loosely
  kept, sometimes any hue) worn with a random pattern. Shapes are random silhouettes (blobs,
  ellipses, thin bars), so the outline says nothing about the class.
- **Camouflage: decoys.** Every scene also holds *decoys*: patches drawn from exactly the same
  materials, shapes and sizes as objects, which the label calls background (like a printed
  picture of a dog, background in VOC). From the image alone an object and a decoy are
  indistinguishable; decoys overlap and touch objects, so even one material patch may be part
  object and part decoy. The label's partition separates them at once.
- The background itself is a dull textured material, and every image gets soft edges, blur,
  sensor noise and colour jitter. As in VOC, a thin void band (255) follows object outlines.

The label alone (image zeroed) tells object from background but not which material: a teacher
fed only its label sits near the floor. The "scene knobs" below set the difficulty; change them
only together with SYNTHETIC_VERSION.

Shapes are drawn from signed distance functions (SDFs) on a pixel grid: negative inside, in pixel
units. One SDF gives the label mask (d < 0), the soft coverage and the void band (|d| small), so
the three always agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from ladkit.constants import IGNORE_INDEX

SYNTHETIC_CLASSES: list[str] = ["background", "coral", "moss", "sand", "sky", "plum"]
SYNTHETIC_PALETTE: list[tuple[int, int, int]] = [
    (0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (145, 30, 180),
]

# Bump whenever the data changes (render_sample's output, or what synthetic_store writes), so
# stale data on disk is detected via the meta.
# 1-2: shape classes (the label's partition added little to what the image showed);
# 3: material classes with camouflaging decoys, and a test split;
# 4: a family of designs (``Design``: the v3 decoys scene renders as before), clean labels of
#    every split in SegmentationClassClean/ (train_clean, val_clean), the design in the meta.
SYNTHETIC_VERSION = 4

# Scene knobs: these set how hard the task is. Counts are inclusive ranges; radii and blur are
# fractions of the image side, so a scene looks the same at any resolution.
PATCHES_PER_IMAGE = (4, 7)
OBJECT_PROB = 0.6  # each patch is an object with this probability, else a decoy (background)
PATCH_RADIUS = (0.18, 0.40)
MAX_BLUR_SIGMA = 0.008
EDGE_SOFTNESS = (1.0, 2.5)  # width of a patch's soft edge, pixels
BACKGROUND_SATURATION, BACKGROUND_VALUE = (0.0, 0.35), (0.3, 0.8)
MATERIAL_SATURATION, MATERIAL_VALUE = (0.45, 1.0), (0.35, 1.0)
SENSOR_NOISE_STD = (2.0, 6.0)  # in 0-255 grey levels
# Each material keeps its hue (1/5 of the circle apart) up to this spread, except with
# probability 1 - PREFERRED_HUE_PROB when it takes any hue: the image names the class most of
# the time, not always.
PREFERRED_HUE_PROB = 0.85
PREFERRED_HUE_SPREAD = 0.04  # std, as a fraction of the hue circle
TEXTURES = ["plain", "stripes", "checker", "dots", "speckle"]

# Regions scene (the default design): the image is a partition into large regions, each a class,
# whose per-pixel evidence is weak (a faint hue under strong noise) so the class is clear only when
# pooled over the region.
RIM_OFFSET = 1.5  # pixels: the decoy cue's rim peaks this far outside an object's outline
REGIONS_PER_IMAGE = (3, 6)
REGION_WARP = 0.12  # how far region boundaries wander from straight Voronoi edges (fraction of side)
REGION_VALUE = (0.45, 0.65)
REGION_HUE_SPREAD = 0.02  # per-region hue jitter, as a fraction of the hue circle
REGION_ILLUMINATION = 0.12  # low-frequency brightness field across the whole image
REGION_CLUTTER = (0.0, 0.25)  # strength of a class-independent texture laid over each region


@dataclass(frozen=True)
class Design:
    """One member of the generator family: the scene, and what happens to the train/val labels.
    The defaults are the embedded default, ``noisy-labels`` (docs/configuration.md "The embedded
    default").

    scene        "decoys": materials on random silhouettes among decoys labelled background
                 (version 3's scene); "regions": large regions with weak per-pixel class evidence.
    class_noise  share of the object segments in train/val labels relabelled to the class's
                 confusable partner (the next material); test labels stay clean (annotation errors).
    decoy_cue    decoys only: a dark rim just outside every object's outline, this much darker (0:
                 none, version 3's invisible decoys): how far the image can tell an object from a decoy.
    mask_jitter  train/val labels shifted, dilated or eroded by 1..mask_jitter pixels (0: off): a
                 negative control, where the label's partition itself is noisy.
    contrast     regions only: saturation of the class hues, i.e. per-pixel class evidence against
                 the sensor noise (lower: harder; the partition matters more).
    pixel_noise  regions only: sensor noise std in grey levels.
    """

    scene: str = "decoys"
    class_noise: float = 0.3
    decoy_cue: float = 0.2
    mask_jitter: int = 0
    contrast: float = 0.3
    pixel_noise: float = 40.0

    def __post_init__(self):
        if self.scene not in SCENES:
            raise ValueError(f"synthetic scene={self.scene!r} is not valid: expected one of {', '.join(SCENES)}")
        for name, low, high in (("contrast", 0.0, 1.0), ("class_noise", 0.0, 1.0), ("pixel_noise", 0.0, 255.0),
                                ("decoy_cue", 0.0, 1.0)):
            value = getattr(self, name)
            # a bool is an int to Python: `class_noise=true` would run as 1.0 and be recorded as true
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and low <= value <= high):
                raise ValueError(f"synthetic {name}={value!r} is not valid: expected a number in [{low}, {high}]")
        jitter = self.mask_jitter
        if isinstance(jitter, bool) or not (isinstance(jitter, int) and 0 <= jitter <= 8):
            raise ValueError(f"synthetic mask_jitter={jitter!r} is not valid: expected an integer in 0 .. 8")


SCENES = ("decoys", "regions")
# The knobs only one scene reads, and the value they keep in the other scene's named designs: set
# to anything else there, a knob would change the recorded design and not the data.
SCENE_KNOBS = {"decoy_cue": ("decoys", 0.0), "contrast": ("regions", 0.3), "pixel_noise": ("regions", 40.0)}
# The named designs (docs/configuration.md "The embedded default"); a design is also any dict of
# Design fields.
DESIGNS: dict[str, Design] = {
    # the default: 30 % of the object segments mislabelled as their partner material, decoys
    # faintly cued (what the label's partition adds, the image shows a little of)
    "noisy-labels": Design(),
    # negative control 1: generator version 3, clean labels, invisible decoys (what the label adds
    # cannot be computed from the image)
    "decoys": Design(class_noise=0.0, decoy_cue=0.0),
    # negative control 2: clean classes, jittered masks (the label's partition itself is noisy)
    "jittered-masks": Design(class_noise=0.0, mask_jitter=3),
    # the partition-difficulty design: weak per-pixel evidence on large regions (teachers here
    # ignored their random codes: docs/configuration.md "The embedded default")
    "regions": Design(scene="regions", decoy_cue=0.0),
}
DEFAULT_DESIGN = "noisy-labels"


def as_design(design: str | dict | Design | None) -> Design:
    """A Design from a name of DESIGNS, a dict of fields (``{"design": NAME}`` picks the base), or None."""
    if design is None:
        return DESIGNS[DEFAULT_DESIGN]
    if isinstance(design, Design):
        return design
    if isinstance(design, str):
        if design not in DESIGNS:
            raise ValueError(f"synthetic design {design!r} is not valid: expected one of {', '.join(DESIGNS)}")
        return DESIGNS[design]
    if isinstance(design, dict):
        fields = dict(design)
        base = as_design(fields.pop("design", None))
        valid = [f.name for f in dataclasses.fields(Design)]
        unknown = sorted(set(fields) - set(valid))
        if unknown:
            raise ValueError(f"synthetic: unknown knob(s) {', '.join(unknown)}; valid: design, {', '.join(valid)}")
        if "mask_jitter" in fields and isinstance(fields["mask_jitter"], float) and fields["mask_jitter"].is_integer():
            fields["mask_jitter"] = int(fields["mask_jitter"])
        made = dataclasses.replace(base, **fields)
        idle = sorted(k for k in fields if k in SCENE_KNOBS and SCENE_KNOBS[k][0] != made.scene
                      and fields[k] != SCENE_KNOBS[k][1])
        if idle:
            knob, (scene, value) = idle[0], SCENE_KNOBS[idle[0]]
            raise ValueError(f"synthetic {knob}={fields[knob]!r} is not valid for the {made.scene} scene: only the "
                             f"{scene} scene reads it (here it stays {value}); drop it, or choose a {scene} design")
        return made
    raise ValueError(f"synthetic design {design!r} is not valid: expected a name ({', '.join(DESIGNS)}) or a mapping of knobs")


# ---------------------------------------------------------------------------------------------
# Signed distance functions. Arguments u, v are pixel coordinates in the shape's own frame.
# ---------------------------------------------------------------------------------------------

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


# Silhouettes: any material wears any of them, so the outline never names the class.
def silhouette_blob(u, v, size, min_stroke, rng):
    count = rng.integers(7, 12)
    angles = np.sort(rng.uniform(0, 2 * np.pi, count))
    radii = size * rng.uniform(0.5, 1.0, count)
    return sdf_polygon(u, v, np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1))


def silhouette_ellipse(u, v, size, min_stroke, rng):
    semi_major, semi_minor = size, size / rng.uniform(1.0, 2.5)
    # Scaled implicit equation: exact on the outline, close enough nearby for soft edges.
    return (np.hypot(u / semi_major, v / semi_minor) - 1.0) * semi_minor


def silhouette_bar(u, v, size, min_stroke, rng):
    half_stroke = max(rng.uniform(0.12, 0.3) * size, min_stroke / 2)  # a thin part
    return sdf_box(u, v, size * 1.3, half_stroke)


SILHOUETTES = [silhouette_blob, silhouette_blob, silhouette_ellipse, silhouette_bar]
SILHOUETTE_REACH = 1.35  # no patch extends further than this many radii from its centre


# ---------------------------------------------------------------------------------------------
# Colours and materials
# ---------------------------------------------------------------------------------------------

def hsv_to_rgb(hue, saturation, value):
    """Scalar HSV (all in [0, 1]) to an RGB float array in [0, 1]."""
    channel = (np.array([5.0, 3.0, 1.0]) + hue * 6.0) % 6.0
    return value - value * saturation * np.clip(np.minimum(channel, 4.0 - channel), 0.0, 1.0)


def random_colour(rng, saturation, value, hue=None):
    if hue is None:
        hue = rng.uniform()
    return hsv_to_rgb(hue % 1.0, rng.uniform(*saturation), rng.uniform(*value))


def material_colours(rng, class_id):
    """Two shades of one material: its class's hue, loosely kept (sometimes any hue)."""
    hue = None
    if rng.uniform() < PREFERRED_HUE_PROB:
        hue = (class_id - 1) / (len(SYNTHETIC_CLASSES) - 1) + rng.normal(0, PREFERRED_HUE_SPREAD)
    first = random_colour(rng, MATERIAL_SATURATION, MATERIAL_VALUE, hue)
    second = np.clip(first * rng.uniform(0.45, 0.8) + rng.uniform(0, 0.2), 0, 1)  # same hue
    return first, second


def render_texture(kind, u, v, first, second, size, rng):
    """An (H, W, 3) float image: `first`/`second` laid out in a pattern in the frame (u, v)."""
    angle = rng.uniform(0, np.pi)
    along = u * np.cos(angle) + v * np.sin(angle)
    across = -u * np.sin(angle) + v * np.cos(angle)
    period = size * rng.uniform(0.06, 0.12)
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
    """A dull material: two low-saturation colours in a random pattern, plus low-frequency noise."""
    first = random_colour(rng, BACKGROUND_SATURATION, BACKGROUND_VALUE)
    second = random_colour(rng, BACKGROUND_SATURATION, BACKGROUND_VALUE)
    kind = TEXTURES[rng.integers(len(TEXTURES))]
    image = render_texture(kind, xx, yy, first, second, size, rng)
    return image + rng.uniform(0.03, 0.1) * smooth_noise(rng, size)[..., None]


def place(rng, size, scale_range, reach):
    """Random centre, rotation and radius for a shape reaching `reach` radii from its centre.

    Returns the image window the shape can touch, shape-frame coordinates of that window's pixel
    centres, and the radius. Working on the window only is what keeps rendering fast.
    """
    cy, cx = rng.uniform(0.05, 0.95, size=2) * size
    angle = rng.uniform(0, 2 * np.pi)
    radius = size * np.exp(rng.uniform(*np.log(scale_range)))
    half = reach * radius + 3  # + soft-edge margin
    rows = slice(max(0, int(cy - half)), min(size, int(np.ceil(cy + half))))
    cols = slice(max(0, int(cx - half)), min(size, int(np.ceil(cx + half))))
    yy, xx = np.mgrid[rows, cols] + 0.5
    dy, dx = yy - cy, xx - cx
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    return (rows, cols), u, v, radius


def paint(image, sdf, texture, softness):
    """Alpha-composite a texture into `image`, its edge fading over `softness` pixels."""
    coverage = np.clip(0.5 - sdf / softness, 0.0, 1.0)[..., None]
    image += coverage * (texture - image)


def add_patches(rng, image, label, void, size, min_stroke, void_half_width, rim: float = 0.0):
    """Material patches, each an object (labelled with its material) or a decoy (background).
    Later patches occlude earlier ones, in the image, the label and the void band. ``rim`` > 0
    darkens a thin band just outside each object's outline by that share: a faint cue that
    tells objects from decoys (0: none, the decoys are invisible; no extra random draws)."""
    for _ in range(rng.integers(PATCHES_PER_IMAGE[0], PATCHES_PER_IMAGE[1] + 1)):
        class_id = int(rng.integers(1, len(SYNTHETIC_CLASSES)))
        is_object = rng.uniform() < OBJECT_PROB
        window, u, v, radius = place(rng, size, PATCH_RADIUS, SILHOUETTE_REACH)
        sdf = SILHOUETTES[rng.integers(len(SILHOUETTES))](u, v, radius, min_stroke, rng)
        first, second = material_colours(rng, class_id)
        kind = TEXTURES[rng.integers(len(TEXTURES))]
        texture = render_texture(kind, u, v, first, second, size, rng)
        paint(image[window], sdf, texture, rng.uniform(*EDGE_SOFTNESS))
        if rim and is_object:
            image[window] *= 1 - rim * np.clip(1 - np.abs(sdf - RIM_OFFSET) / RIM_OFFSET, 0, 1)[..., None]
        label[window][sdf < 0] = class_id if is_object else 0
        # The patch hides the void band of whatever it covers; only objects bring an outline.
        void[window][sdf < -void_half_width] = False
        if is_object:
            void[window][np.abs(sdf) < void_half_width] = True


def degrade(rng, image, size):
    """Camera effects: contrast/brightness/white-balance jitter, blur, then sensor noise."""
    mean = image.mean()
    image = (image - mean) * rng.uniform(0.75, 1.25) + mean + rng.uniform(-0.1, 0.1)
    image = image * rng.uniform(0.9, 1.1, size=3)
    pixels = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8))
    pixels = pixels.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, MAX_BLUR_SIGMA) * size))
    noise = rng.normal(0, rng.uniform(*SENSOR_NOISE_STD), image.shape)
    noisy = np.asarray(pixels, dtype=np.float32) + noise
    return np.clip(noisy, 0, 255).round().astype(np.uint8)


def render_sample(seed: int, index: int, size: int, *, ignore_border: float = 1.0, design=None):
    """One (image (H,W,3) uint8, clean label (H,W) uint8) pair, determined by (seed, index, size)
    and the design's scene knobs (``training_label`` gives the train/val label from it).

    Labels hold class ids, and IGNORE_INDEX on a band ``ignore_border`` pixels wide centred on
    visible outlines (0 turns the band off). Geometry is drawn in units of `size`, so one
    (seed, index) shows the same scene at any resolution.
    """
    design = as_design(design)
    scene_rng, camera_rng = (np.random.default_rng(s)
                             for s in np.random.SeedSequence([seed, index]).spawn(2))
    yy, xx = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    if design.scene == "regions":
        return render_regions(scene_rng, camera_rng, yy, xx, size, design, ignore_border)
    min_stroke = max(2.0, 0.03 * size)  # thin parts still keep a labelled core
    image = render_background(scene_rng, yy, xx, size)
    label = np.zeros((size, size), dtype=np.uint8)
    void = np.zeros((size, size), dtype=bool)
    add_patches(scene_rng, image, label, void, size, min_stroke, ignore_border / 2, design.decoy_cue)
    label[void] = IGNORE_INDEX
    return degrade(camera_rng, image, size), label


def region_colour(rng, class_id, contrast):
    """A class's faint hue (the six classes 1/6 of the circle apart), slightly varied per region."""
    hue = class_id / len(SYNTHETIC_CLASSES) + rng.normal(0, REGION_HUE_SPREAD)
    return hsv_to_rgb(hue % 1.0, contrast, rng.uniform(*REGION_VALUE))


def render_regions(scene_rng, camera_rng, yy, xx, size, design: Design, ignore_border: float):
    """Large regions with wandering boundaries (a warped Voronoi partition), each of a random
    class worn as a faint hue under a class-independent texture, illumination and strong noise.
    Neighbouring regions of one class merge, as touching objects of one class do in VOC."""
    count = int(scene_rng.integers(REGIONS_PER_IMAGE[0], REGIONS_PER_IMAGE[1] + 1))
    centres = scene_rng.uniform(0, size, (count, 2))
    warp = REGION_WARP * size
    wy, wx = (warp * smooth_noise(scene_rng, size, cells=4) for _ in range(2))
    distance = np.hypot((yy + wy)[..., None] - centres[:, 0], (xx + wx)[..., None] - centres[:, 1])
    region = np.argmin(distance, axis=-1)
    classes = scene_rng.integers(0, len(SYNTHETIC_CLASSES), count)
    label = classes[region].astype(np.uint8)
    image = np.zeros((size, size, 3))
    for r in range(count):
        inside = region == r
        first = region_colour(scene_rng, classes[r], design.contrast)
        second = np.clip(first + scene_rng.uniform(*REGION_CLUTTER) * scene_rng.uniform(-1, 1, 3), 0, 1)
        kind = TEXTURES[scene_rng.integers(len(TEXTURES))]
        image[inside] = render_texture(kind, xx, yy, first, second, size, scene_rng)[inside]
    image *= 1 + REGION_ILLUMINATION * smooth_noise(scene_rng, size)[..., None]
    label[outline_band(label, ignore_border)] = IGNORE_INDEX
    noise = camera_rng.normal(0, design.pixel_noise, image.shape)
    pixels = np.clip(image, 0, 1) * 255 * camera_rng.uniform(0.9, 1.1) + noise
    return np.clip(pixels, 0, 255).round().astype(np.uint8), label


def outline_band(label: np.ndarray, width: float) -> np.ndarray:
    """Pixels within about ``width`` / 2 of a class change: a 1-pixel band for width 1, none for 0."""
    from scipy import ndimage

    band = np.zeros(label.shape, dtype=bool)
    if width <= 0:
        return band
    band[:, :-1] |= label[:, :-1] != label[:, 1:]
    band[:-1, :] |= label[:-1, :] != label[1:, :]
    extra = int(width // 2)
    return ndimage.binary_dilation(band, iterations=extra) if extra else band


def partner_class(label: np.ndarray, scene: str) -> np.ndarray:
    """Each class's confusable partner, the class of the next hue (decoys: objects only)."""
    classes = len(SYNTHETIC_CLASSES)
    if scene == "regions":
        return ((label.astype(np.int64) + 1) % classes).astype(np.uint8)
    return np.where(label == 0, 0, label % (classes - 1) + 1).astype(np.uint8)


def training_label(seed: int, index: int, label: np.ndarray, design=None) -> np.ndarray:
    """The train/val label of a sample: the clean ``label`` with the design's annotation errors
    (whole segments relabelled to their partner class; masks shifted, dilated or eroded). Its own
    random stream, so the image and the clean label do not depend on these knobs."""
    from scipy import ndimage

    design = as_design(design)
    if not design.class_noise and not design.mask_jitter:
        return label
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, 1]))
    noisy = label.copy()
    if design.class_noise:
        partner = partner_class(label, design.scene)
        for class_id in np.unique(label):
            if class_id == IGNORE_INDEX:
                continue
            segments, count = ndimage.label(label == class_id)
            flip = np.flatnonzero(rng.uniform(size=count) < design.class_noise) + 1
            mask = np.isin(segments, flip)
            noisy[mask] = partner[mask]
    if design.mask_jitter:
        noisy = jitter_mask(rng, noisy, int(rng.integers(1, design.mask_jitter + 1)))
    return noisy


def jitter_mask(rng, label: np.ndarray, amount: int) -> np.ndarray:
    """``label`` shifted by ``amount`` pixels in a random direction, or one of its classes dilated
    or eroded by ``amount`` (freed pixels take the nearest other label)."""
    from scipy import ndimage

    kind = ("shift", "dilate", "erode")[rng.integers(3)]
    present = [c for c in np.unique(label) if c != IGNORE_INDEX]
    if kind == "shift" or not present:
        angle = rng.uniform(0, 2 * np.pi)
        dy, dx = int(round(amount * np.sin(angle))), int(round(amount * np.cos(angle)))
        rows = np.clip(np.arange(label.shape[0]) - dy, 0, label.shape[0] - 1)
        cols = np.clip(np.arange(label.shape[1]) - dx, 0, label.shape[1] - 1)
        return label[np.ix_(rows, cols)]
    class_id = present[rng.integers(len(present))]
    mask = label == class_id
    out = label.copy()
    if kind == "dilate":
        out[ndimage.binary_dilation(mask, iterations=amount)] = class_id
        return out
    kept = ndimage.binary_erosion(mask, iterations=amount, border_value=1)
    freed = mask & ~kept
    if freed.any() and (~mask).any():
        _, (iy, ix) = ndimage.distance_transform_edt(mask, return_indices=True)
        out[freed] = label[iy[freed], ix[freed]]
    return out
