"""The one error type every dataset reader raises for bad or missing data."""


class DatasetError(ValueError):
    """A dataset root, file or label is missing, unreadable or inconsistent.

    The message always names the file (or root) and says how to fix it, because the person reading
    it is usually looking at a training log, far from the code that found the problem.
    """
