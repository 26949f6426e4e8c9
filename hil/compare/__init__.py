"""The device-vs-DSP comparison: one alert stream through the device limiter (firmware_model)
and the DSP model (hil.model) side by side, every divergence classified and given a cause.

Which file holds what: settings.py (Latency, Perturbations, Setup), replay.py (the device-only
pipeline: DeviceReplay), dsp_side.py (the DSP-only and device -> DSP pipelines),
attribution.py (divergence classes and causes, the pair run, cause attribution), result.py
(CompareResult), session.py (compare_device: one device session), stream.py (sessions,
partitioning, the process pool, compare_stream), real_dsp.py (RealCheck). hil.compare is the
only package that imports both the device limiter and the DSP model."""

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
from hil.compare.real_dsp import RealCheck
from hil.compare.replay import DeviceReplay, DeviceRun
from hil.compare.result import CompareResult
from hil.compare.session import compare_device
from hil.compare.settings import Latency, Perturbations, Setup
from hil.compare.stream import compare_stream, partition_of, sessions

__all__ = [
    "CAUSES", "CLASSES", "CLOCK_SKEW", "CONFIG_DIFFERENCE", "COUNT_MISMATCH", "CRITICAL_LOST",
    "DEVICE_RESET", "EXTRA_WAN", "LOST_AT_DEVICE", "TABLE_EVICTION", "UNKNOWN", "WAN_LATENCY",
    "WINDOW_ALIGNMENT",
    "CompareResult", "DeviceReplay", "DeviceRun", "Latency", "PairRun", "Perturbations",
    "RealCheck", "Setup",
    "compare_device", "compare_stream", "decisions", "partition_of", "run_pair", "sessions",
]
