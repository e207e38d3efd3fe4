"""Datasets: readers for CT-RATE and Rad-ChestCT (real and synthetic), masks, preprocessing, cache.

>>> from cabench.data import open_dataset
>>> ds = open_dataset("synth-ct-rate", "data/synth-ct-rate")  # doctest: +SKIP
>>> case = ds.cases("valid")[0]; volume = ds.read_volume(case)  # doctest: +SKIP
"""

from cabench.data.base import CaseRef, DatasetReader, Volume
from cabench.data.catalog import open_dataset

__all__ = ["CaseRef", "DatasetReader", "Volume", "open_dataset"]
