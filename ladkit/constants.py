"""Numbers every module agrees on."""

IGNORE_INDEX = 255
# torchvision's ImageNet normalization: the image tensors every dataset returns use it.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The choices the configs offer, each named once here (torch-free: config checks them without
# importing torch) and imported where it is implemented.
NOISE_MODES = ("random", "fixed", "onehot")  # ladkit.noising: how a label becomes the teacher's channel(s)
CONSISTENCY_KINDS = ("cwd", "kl", "mse")  # ladkit.losses.dual_path_consistency
KD_KINDS = ("none", "kd", "cwd", "dist")  # the KD term of ladkit.jobs.DistillJob (ladkit.jobs.KD_TERMS)
KD_SOURCES = ("teacher", "label", "clean-label")  # what it imitates: a teacher, gt-kd, the oracle
OPTIMIZERS = ("adamw", "sgd")  # ladkit.engine.build_optimizer
AMP_MODES = ("none", "bf16", "fp16", "auto")  # ladkit.engine.resolve_amp: autocast dtypes; auto: bf16 where native
# `ladkit demo --quick`: a smoke run of the main job (iterations, test images scored)
QUICK_ITERS, QUICK_IMAGES = 60, 100
