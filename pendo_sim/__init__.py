"""pendo_sim: a local simulator of Pendo's v1 REST API (see README.md)."""

from .config import DatasetConfig, SimOptions
from .dataset import Dataset
from .faults import Fault
from .simulator import Simulator

__all__ = ["Simulator", "DatasetConfig", "Fault", "SimOptions", "Dataset"]
