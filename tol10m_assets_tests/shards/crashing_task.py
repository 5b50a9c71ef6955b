"""A resize task whose process dies on one input, as a decoder crash or the OOM killer would."""

import os

from tol10m_assets.shards.writer import _resize_task


def task(source, settings):
    if source == b"KILL":
        os._exit(1)
    return _resize_task(source, settings)
