"""Opening neuroimaging files: nibabel on demand, paths checked, read errors made clear."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import struct
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any
from xml.parsers.expat import ExpatError

from xneuro.core.backend import import_optional
from xneuro.core.errors import InputError, input_error

__all__ = ["READ_ERRORS", "check_path", "is_gzip", "load_image_header", "nibabel", "unpack"]

logger = logging.getLogger("xneuro.io")

#: Exceptions that nibabel and the decompressors raise on unreadable or truncated files.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    struct.error,
    zlib.error,
    ExpatError,
    KeyError,
    IndexError,
    TypeError,
)

#: Suffixes recognised as neuroimaging files, for messages.
KNOWN_SUFFIXES = ".nii, .nii.gz, .dtseries.nii, .dscalar.nii, .func.gii, .gii, .mgh, .mgz"


def nibabel() -> ModuleType:
    """Import nibabel, or explain how to install it."""
    return import_optional("nibabel", extra="io", purpose="reading and writing neuroimaging files")


def check_path(path: Any, argument: str = "path") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` to an existing file.

    Raises
    ------
    InputError
        If ``path`` is not a str or PathLike, does not exist or is a directory.
    """
    if not isinstance(path, str | os.PathLike):
        raise input_error(argument, f"is a {type(path).__name__}",
                          expected="a file path (str or pathlib.Path)",
                          fix="pass the path of the image file")
    file = Path(path).expanduser()
    if not file.exists():
        raise input_error(argument, f"{os.fspath(file)!r} does not exist",
                          expected="an existing image file", fix="check the path and its spelling")
    if file.is_dir():
        raise input_error(argument, f"{os.fspath(file)!r} is a directory",
                          expected=f"an image file ({KNOWN_SUFFIXES})",
                          fix="pass the file inside it")
    return file


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def load_image_header(path: Path, argument: str = "path") -> Any:
    """Open an image with nibabel (header only; data stay on disk).

    Raises
    ------
    InputError
        If nibabel cannot read the file, naming the file and nibabel's reason.
    """
    nib = nibabel()
    try:
        return nib.load(os.fspath(path))
    except (nib.filebasedimages.ImageFileError, *READ_ERRORS) as err:
        raise input_error(
            argument,
            f"{os.fspath(path)!r} could not be read as a neuroimaging image "
            f"({type(err).__name__}: {err})",
            expected=f"a complete NIfTI-1/2, CIFTI-2, GIFTI or MGH/MGZ file ({KNOWN_SUFFIXES})",
            fix="check that the file is not truncated or corrupt (re-copy or re-export it) "
            "and that its suffix matches its format",
        ) from err


def truncated_error(path: str, err: BaseException | str) -> InputError:
    """The error for a file whose data part is shorter or damaged."""
    reason = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return input_error(  # type: ignore[return-value]
        "path",
        f"{path!r} is truncated or corrupt ({reason})",
        expected="a complete image file whose data part holds every voxel and volume",
        fix="re-copy or re-export the file; for .gz files check it with `gzip -t`",
    )


def unpack(path: Path, folder: str | os.PathLike[str]) -> Path:
    """Decompress a gzip file once into ``folder`` (streaming; bounded memory).

    The unpacked copy is reused while it is newer than the source.

    Parameters
    ----------
    path : Path
        A gzip-compressed image, e.g. ``run.nii.gz``.
    folder : path
        Where the uncompressed copy goes (created if missing).

    Returns
    -------
    Path
        The uncompressed file, e.g. ``folder/run.nii``.
    """
    target_dir = Path(folder)
    target_dir.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        name = path.name[:-3]
    elif path.name.endswith(".mgz"):
        name = path.name[:-4] + ".mgh"
    else:
        name = path.name + ".unpacked"
    target = target_dir / name
    if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    partial = target.with_name(target.name + ".partial")
    logger.info("decompressing %s to %s", path, target)
    try:
        with gzip.open(path, "rb") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst, length=16 * 2**20)
    except READ_ERRORS as err:
        partial.unlink(missing_ok=True)
        raise truncated_error(os.fspath(path), err) from err
    partial.replace(target)
    return target
