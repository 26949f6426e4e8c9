"""Where the project's own files are, for code that runs from a checkout (board files, the
firmware to deploy, the emulator)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOARDS_DIR = ROOT / "boards"
FIRMWARE_DIR = ROOT / "firmware_model"
