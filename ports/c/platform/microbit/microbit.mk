# microbit.mk -- the micro:bit (nRF51822, Cortex-M0) build, included by ports/c/Makefile
# (which gives PORT_SRC, the portable firmware, and FWID). Paths are relative to ports/c. Toolchain: Debian's gcc-arm-none-eabi and
# libnewlib-arm-none-eabi (scripts/setup.sh); without them `microbit` says so and fails.
#
#   make -C ports/c microbit          build/microbit/firmware.elf, the board's firmware
#   make -C ports/c microbit-smoke    build/microbit/smoke.elf, the platform on its own
#   make -C ports/c microbit-size     text/data/bss of the firmware (arm-none-eabi-size)

MB_DIR   := platform/microbit
MB_BUILD := build/microbit
MB_CC    ?= arm-none-eabi-gcc
MB_SIZE  ?= arm-none-eabi-size
MB_CLOCK ?= virtual

MB_CFLAGS := -mcpu=cortex-m0 -mthumb -Os -g -std=c99 -ffreestanding \
             -Wall -Wextra -Werror -Wpedantic -Wshadow -Wconversion -Wsign-conversion \
             -ffunction-sections -fdata-sections -Iinclude -Isrc -I$(MB_DIR) \
             -DFW_ID='"sha256:$(FWID)"'
# a 16 KB RAM: the RESEND ring and the limiter under test sized down (docs/c-port.md 4)
MB_CFLAGS += -DWIRE_RING_MAX=8u -DLUT_TABLE=16u
ifeq ($(MB_CLOCK),real)
MB_CFLAGS += -DMICROBIT_CLOCK_REAL
endif
# no crt0: startup.c is the start-up; newlib-nano gives memcpy/memset, libgcc the division
MB_LDFLAGS := -mcpu=cortex-m0 -mthumb -nostartfiles --specs=nano.specs \
              -T $(MB_DIR)/microbit.ld -Wl,--gc-sections -Wl,--no-warn-rwx-segments

MB_PLATFORM := $(MB_DIR)/startup.c $(MB_DIR)/platform.c
MB_HEADERS  := $(wildcard include/*.h src/*.h $(MB_DIR)/*.h) $(MB_DIR)/microbit.ld
MB_FIRMWARE_SRC := $(PORT_SRC) $(MB_DIR)/main.c

.PHONY: microbit microbit-smoke microbit-size microbit-toolchain

microbit-toolchain:
	@command -v $(MB_CC) >/dev/null || { echo "microbit: $(MB_CC) not installed (apt: gcc-arm-none-eabi libnewlib-arm-none-eabi; scripts/setup.sh)" >&2; exit 1; }

microbit: microbit-toolchain $(MB_BUILD)/firmware.elf
microbit-smoke: microbit-toolchain $(MB_BUILD)/smoke.elf

$(MB_BUILD)/firmware.elf: $(MB_PLATFORM) $(MB_FIRMWARE_SRC) $(MB_HEADERS) $(MB_DIR)/microbit.mk
	@mkdir -p $(@D)
	$(MB_CC) $(MB_CFLAGS) $(MB_LDFLAGS) -Wl,-Map=$(@:.elf=.map) -o $@ $(MB_PLATFORM) $(MB_FIRMWARE_SRC)

$(MB_BUILD)/smoke.elf: $(MB_PLATFORM) $(MB_DIR)/smoke.c $(MB_HEADERS) $(MB_DIR)/microbit.mk
	@mkdir -p $(@D)
	$(MB_CC) $(MB_CFLAGS) $(MB_LDFLAGS) -o $@ $(MB_PLATFORM) $(MB_DIR)/smoke.c

microbit-size: microbit
	$(MB_SIZE) $(MB_BUILD)/firmware.elf
