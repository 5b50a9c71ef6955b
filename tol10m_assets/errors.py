"""Errors and skip reasons shared by the whole core.

Bad input that must stop a build raises :class:`InputFormatError`, which always names the file and,
where there is one, the line (1-based, header = line 1) or archive member. Bad input that must *not*
stop a build (a corrupt image, an unexpected tar member) is skipped and counted under one of the
``SKIP_*`` reasons below.
"""

from __future__ import annotations

from pathlib import Path

SKIP_CORRUPT_IMAGE = "corrupt_image"  # does not decode, truncated, zero bytes, not an image, too large
SKIP_NO_TAXON = "no_taxon"  # every one of the seven ranks is empty after lookup
SKIP_RARE_SPECIES = "rare_species"  # excluded by the Rare Species benchmark lists (spec section 5)
SKIP_NOT_IN_MAPPING = "not_in_mapping"  # an image the mapping does not list (reproduce mode)
SKIP_BAD_MEMBER_NAME = "bad_member_name"  # an archive member / file whose name does not fit the layout
SKIP_DUPLICATE = "duplicate"  # the same source image a second time (the first one is kept)
SKIP_UNEXPECTED_PATH = "unexpected_path"  # an image in a sub-folder the source layout does not have
SKIP_REMOVED = "removed"  # taken down on request: listed in the `remove_list` (tol10m_assets.takedowns)
SKIP_REASONS = (
    SKIP_CORRUPT_IMAGE,
    SKIP_NO_TAXON,
    SKIP_RARE_SPECIES,
    SKIP_NOT_IN_MAPPING,
    SKIP_BAD_MEMBER_NAME,
    SKIP_DUPLICATE,
    SKIP_UNEXPECTED_PATH,
    SKIP_REMOVED,
)


class InputFormatError(ValueError):
    """A metadata or name file that cannot be read as its format says.

    ``str(err)`` reads ``path:line: message`` (or ``path: message``) so a user can open the spot.
    """

    def __init__(self, path: str | Path, message: str, line: int | None = None, member: str | None = None):
        self.path = str(path)
        self.line = line
        self.member = member
        self.message = message
        where = self.path
        if member is not None:
            where += f"[{member}]"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {message}")


class MissingSourceError(FileNotFoundError):
    """A configured source file or directory does not exist; names the setting to change."""

    def __init__(self, path: str | Path, setting: str, what: str = "source"):
        self.path = str(path)
        self.setting = setting
        super().__init__(
            f"{what} not found at {path}: set `{setting}` in the `tol` resource config, "
            "or point `sources_root` (TOL10M_SOURCES_ROOT) at the folder that holds it"
        )
