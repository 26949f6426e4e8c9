"""Host side of the alert-storm tool: GBCS frame codec (construct), the DSP-side SECMP0062
model, the device-vs-DSP comparison, and the hardware-in-the-loop harness.

Layering (nothing imports upward): frames -> dsp / streams -> compare -> harness -> report / cli.
"""
