/* main.c -- the host build's startup: the board's settings from the command line (the native
 * engine passes a board file's values, emulator/engine_native.py), then the firmware, again
 * after every reset.
 *
 *   alertstorm --flash FILE [--ticks N] [--real-time] [--name S] [--role chub|esme|gsme]
 *              [--limiter hub|meter|both|none] [--slots N] [--poll-ms N] [--persist-ms N]
 *              [--ring N] [--title DEV=16HEX]... [--critical C,C,...] [--config KEY=VALUE]...
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "firmware.h"
#include "plat_host.h"
#include "platform.h"

static board_cfg_t cfg;

static int die(const char *what, const char *arg)
{
    fprintf(stderr, "alertstorm: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static long long num(const char *s, long long lo, long long hi, const char *what)
{
    char *end;
    long long v = strtoll(s, &end, 0);
    if (!*s || *end || v < lo || v > hi)
        die(what, s);
    return v;
}

static int pick(const char *s, const char *const *names, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return die(what, s);
}

static void title(const char *s)
{
    static const char *const devs[] = { "esme", "gsme", "hub", "dcc" };
    const char *eq = strchr(s, '=');
    if (!eq || strlen(eq + 1) != 16)
        die("--title DEV=16HEX", s);
    char dev[8] = { 0 };
    size_t k = (size_t)(eq - s);
    if (k >= sizeof dev)
        die("--title: unknown device", s);
    memcpy(dev, s, k);
    int d = pick(dev, devs, 4, "--title: unknown device");
    for (unsigned i = 0; i < 8; i++) {
        char h[5] = { '0', 'x', eq[1 + 2 * i], eq[2 + 2 * i], 0 };
        cfg.titles[d][i] = (uint8_t)num(h, 0, 255, "--title: not hex");
    }
}

static void critical(const char *s)
{
    cfg.n_critical = 0;
    while (*s) {
        char buf[16];
        size_t k = strcspn(s, ",");
        if (k >= sizeof buf || cfg.n_critical >= LIM_MAX_NT)
            die("--critical", s);
        memcpy(buf, s, k);
        buf[k] = 0;
        cfg.critical[cfg.n_critical++] = (uint16_t)num(buf, 0, 0xFFFF, "--critical");
        s += k + (s[k] == ',');
    }
}

static lim_raw_config_t raw;

static void config(const char *s)
{
    const char *eq = strchr(s, '=');
    if (!eq)
        die("--config KEY=VALUE", s);
    int k = lim_key_index(s, (size_t)(eq - s));
    if (k < 0)
        die("--config: unknown key", s);
    if (k == K_NEVER_THROTTLE) {
        const char *p = eq + 1;
        raw.n_nt = 0;
        while (*p) {
            char buf[16];
            size_t n = strcspn(p, ",");
            if (n >= sizeof buf || raw.n_nt >= LIM_MAX_NT)
                die("--config never_throttle", s);
            memcpy(buf, p, n);
            buf[n] = 0;
            raw.nt[raw.n_nt++] = num(buf, 0, 0xFFFF, "--config never_throttle");
            p += n + (p[n] == ',');
        }
    } else if (k == K_MODE && strcmp(eq + 1, "one_in_n") == 0) {
        raw.v[k] = LIM_ONE_IN_N;
    } else if (k == K_MODE && strcmp(eq + 1, "one_per_period") == 0) {
        raw.v[k] = LIM_ONE_PER_PERIOD;
    } else {
        raw.v[k] = num(eq + 1, -(1LL << 40), 1LL << 40, "--config value");
    }
}

int main(int argc, char **argv)
{
    static const char *const roles[] = { "chub", "esme", "gsme" };
    static const char *const places[] = { "none", "hub", "meter", "both" };
    board_cfg_default(&cfg);
    lim_raw_default(&raw);
    host.flash_fd = -1;
    host.wall_base = 1767225600u;   /* 2026-01-01T00:00:00Z, until the host sends CLOCK */
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--real-time") == 0) {
            host.real = 1;
            continue;
        }
        if (!v)
            die("missing value for", o);
        i++;
        if (strcmp(o, "--flash") == 0) host.flash_path = v;
        else if (strcmp(o, "--ticks") == 0) host.ticks_start = (uint64_t)num(v, 0, 0x3FFFFFFF, o);
        else if (strcmp(o, "--name") == 0) cfg.name = v;
        else if (strcmp(o, "--role") == 0) cfg.role = (uint8_t)pick(v, roles, 3, o);
        else if (strcmp(o, "--limiter") == 0) cfg.placement = (uint8_t)pick(v, places, 4, o);
        else if (strcmp(o, "--slots") == 0) cfg.slots = (uint8_t)num(v, 1, LIM_MAX_SLOTS, o);
        else if (strcmp(o, "--poll-ms") == 0) cfg.poll_ms = (uint32_t)num(v, 1, 3600000, o);
        else if (strcmp(o, "--persist-ms") == 0) cfg.persist_ms = (uint32_t)num(v, 0, 86400000, o);
        else if (strcmp(o, "--ring") == 0) cfg.ring = (uint32_t)num(v, 4, 64, o);
        else if (strcmp(o, "--title") == 0) title(v);
        else if (strcmp(o, "--critical") == 0) critical(v);
        else if (strcmp(o, "--config") == 0) config(v);
        else die("unknown option", o);
    }
    if (!host.flash_path)
        die("--flash FILE is required", NULL);
    const char *bad = lim_config_make(&cfg.config, &raw);
    if (bad)
        die("--config: bad value for", bad);
    signal(SIGPIPE, SIG_IGN);
    if (host.real) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        host.t0_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        host.wall_base = (uint64_t)time(NULL);
    }
    host.cause = PLAT_RESET_POWER;
    /* every reset comes back here; volatile is not needed: nothing local changes after it */
    (void)setjmp(host.boot);
    fw_main(&cfg);
    return 0;
}
