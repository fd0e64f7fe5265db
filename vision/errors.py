"""The one exception type that `vision` raises for a bad image or bad parameters."""


class ImageError(ValueError):
    """An image that cannot be measured; the message is one sentence a user can act on."""
