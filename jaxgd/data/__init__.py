"""Layer 1: datasets by name or file, and minibatches.

    registry   `load_dataset` by name ("moons", "digits", ...) or .npz/.csv path; `DATASETS`
    dataset    the `Dataset` type and the checks every dataset passes
    synthetic  xor, moons, circles, spirals, sine
    real       digits (scikit-learn), mnist1d
    files      .npz files, and `load_file` by suffix
    csvfile    .csv tables: the label column, header detection, places as line and column
    filedata   a file's arrays made a Dataset: text labels encoded, the task inferred
    labels     encoding text labels, inferring the task, shaping labels by task
    splits     stratified train/test splits, standardisation on the training set
    batching   `epoch_indices` (one shuffled epoch, (steps, batch)), `iterate_minibatches`
"""

from jaxgd.data.batching import epoch_indices, iterate_minibatches
from jaxgd.data.dataset import TASKS, Dataset, validate_arrays, validate_dataset
from jaxgd.data.registry import DATASETS, FILE_SUFFIXES, SYNTHETIC, is_file_name, load_dataset
from jaxgd.data.synthetic import circles, moons, sine, spirals, xor

__all__ = ["DATASETS", "FILE_SUFFIXES", "SYNTHETIC", "TASKS", "Dataset", "circles",
           "epoch_indices", "is_file_name", "iterate_minibatches", "load_dataset", "moons",
           "sine", "spirals", "validate_arrays", "validate_dataset", "xor"]
