"""GBCS frames (the codec layer): construct layouts, the decoded view, the fast decoder, the
builders, storm-rate alert identity and the catalogue of alert codes.

Nothing here imports another wing of hil/."""

from hil.frames.primitives import *  # noqa: F403
