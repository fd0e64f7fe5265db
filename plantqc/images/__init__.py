"""Images in the loop: watched camera / microscope folders, measured in worker processes,
stored with their SHA-256 and overlay, and charted through one metric tag per measurement.

`ImagePipeline` is what the daemon runs; `FolderWatcher` and `analyse_file` are its parts.
"""

from plantqc.images.analysis import AnalysisJob, AnalysisOutcome, Recipe, analyse_file
from plantqc.images.pipeline import FileName, ImageEvent, ImagePipeline, parse_name
from plantqc.images.watch import FolderWatcher

__all__ = [
    "AnalysisJob",
    "AnalysisOutcome",
    "FileName",
    "FolderWatcher",
    "ImageEvent",
    "ImagePipeline",
    "Recipe",
    "analyse_file",
    "parse_name",
]
