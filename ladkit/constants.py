"""Numbers every module agrees on."""

IGNORE_INDEX = 255
# torchvision's ImageNet normalization: the image tensors every dataset returns use it.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# `ladkit demo --quick`: a smoke run of the main job (iterations, test images scored)
QUICK_ITERS, QUICK_IMAGES = 60, 100
