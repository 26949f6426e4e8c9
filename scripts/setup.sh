#!/usr/bin/env bash
# Sets up everything the project needs on a fresh Debian bookworm machine
# (Python 3.11, Node 20): Debian packages (QEMU + micro:bit MicroPython firmware, and the
# Cortex-M0 cross toolchain for the C port's micro:bit image),
# a Python venv in .venv with the project and its dev tools, and the npm package
# that provides real MicroPython 1.27 (WebAssembly). Idempotent: re-running is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="qemu-system-arm firmware-microbit-micropython gcc make libc6-dev gcc-arm-none-eabi libnewlib-arm-none-eabi"
PYTHON=${PYTHON:-python3}

need_apt=""
for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need_apt="$need_apt $p"
done
if [ -n "$need_apt" ]; then
    echo "setup: installing Debian packages:$need_apt"
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO=none; fi
    if [ "$SUDO" = none ]; then
        echo "setup: cannot install$need_apt (not root, no sudo); the micro:bit boards will be reported unavailable" >&2
    else
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_apt >/dev/null
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
    echo "setup: installing Python packages into .venv"
    log=.venv/pip-install.log
    if ! { .venv/bin/python -m pip install --upgrade pip &&
           .venv/bin/python -m pip install -e '.[dev]'; } >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "setup: pip install failed (full log: $log)" >&2
        exit 1
    fi
    rm -f .venv/.installed-*
    touch "$stamp"
fi

if [ ! -f node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs ]; then
    echo "setup: installing MicroPython (npm)"
    npm ci --no-audit --no-fund --loglevel=error
fi
# the C port's host build (ports/c/, docs/c-port.md): the native-chub board and its tests
if command -v make >/dev/null && command -v gcc >/dev/null; then
    if ! make -s -C ports/c all lib >.venv/ports-c-build.log 2>&1; then
        tail -40 .venv/ports-c-build.log >&2
        echo "setup: building ports/c failed (full log: .venv/ports-c-build.log)" >&2
        exit 1
    fi
else
    echo "setup: no gcc/make: the C port's board (native-chub) will be reported unavailable" >&2
fi
echo "setup: ready"
