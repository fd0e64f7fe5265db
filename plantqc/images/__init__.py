"""Images in the loop: watched camera / microscope folders, measured in worker processes,
stored with their SHA-256 and overlay, and charted through one metric tag per measurement.

- `plantqc.images.settings`: the ``images:`` inputs of the plant config and their metrics;
- `plantqc.images.pipeline`: `ImagePipeline`, what the daemon runs;
- `plantqc.images.watch`: `FolderWatcher`, new files in a folder;
- `plantqc.images.analysis`: `analyse_file`, what a worker process does with one file.

Nothing is imported here, so that reading the settings imports neither the pipeline nor
OpenCV.
"""
