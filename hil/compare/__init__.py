"""The device-vs-DSP comparison: one alert stream through the device limiter (firmware_model)
and the DSP model (hil.model) side by side, every divergence classified and given a cause.

Which file holds what: settings.py (Latency, Perturbations, Setup), replay.py (the device-only
pipeline: DeviceReplay, SessionBoard), dsp_side.py (the DSP-only and device -> DSP pipelines,
with their reorder buffers), attribution.py (divergence classes and causes, the knobs and
their replays, the pair run), result.py (CompareResult, Partitions), session.py (one device
session as it streams: DeviceSession; compare_device), partition.py (the sessions of one
partition of the devices, partition_of, batches), engine_local.py (LocalEngine: this process or
forked workers), engine_dask.py (DaskEngine: a Dask cluster; imported only when used, not
here), stream.py (cutting a stream into sessions, compare_stream), real_dsp.py (RealCheck).
hil.compare is the only package that imports both the device limiter and the DSP model."""

from hil.compare.attribution import (
    CAUSES,
    CLASSES,
    CLOCK_SKEW,
    CONFIG_DIFFERENCE,
    COUNT_MISMATCH,
    CRITICAL_LOST,
    DEVICE_RESET,
    EXTRA_WAN,
    LOST_AT_DEVICE,
    TABLE_EVICTION,
    UNKNOWN,
    WAN_LATENCY,
    WINDOW_ALIGNMENT,
    PairRun,
    decisions,
    run_pair,
)
from hil.compare.engine_local import LocalEngine
from hil.compare.partition import partition_of
from hil.compare.real_dsp import RealCheck
from hil.compare.replay import DeviceReplay, DeviceRun
from hil.compare.result import CompareResult, Partitions
from hil.compare.session import DeviceSession, compare_device
from hil.compare.settings import Latency, Perturbations, Setup
from hil.compare.stream import Engine, compare_stream, cut, sessions

__all__ = [
    "CAUSES", "CLASSES", "CLOCK_SKEW", "CONFIG_DIFFERENCE", "COUNT_MISMATCH", "CRITICAL_LOST",
    "DEVICE_RESET", "EXTRA_WAN", "LOST_AT_DEVICE", "TABLE_EVICTION", "UNKNOWN", "WAN_LATENCY",
    "WINDOW_ALIGNMENT",
    "CompareResult", "DeviceReplay", "DeviceRun", "DeviceSession", "Engine", "Latency",
    "LocalEngine", "PairRun", "Partitions", "Perturbations", "RealCheck", "Setup",
    "compare_device", "compare_stream", "cut", "decisions", "partition_of", "run_pair",
    "sessions",
]
