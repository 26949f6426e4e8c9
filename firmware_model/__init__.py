# Device-side code: runs unchanged on CPython 3.11 and MicroPython (1.27; the limiter also on
# the micro:bit's 1.9.2). Modules here import only what MicroPython has. Boards without
# directories (micro:bit) get these files flat, so modules import siblings with a fallback.
