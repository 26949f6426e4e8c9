"""Property tests of the device limiter over thousands of random alert streams, against a
direct transcription of docs/policy.md (absolute times, unbounded per-code state, every code
advanced at every alert) written here independently of firmware_model/limiter.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_model.limiter import FORWARD, STARTED, SUPPRESS, Config, Limiter

SAT = (1 << 30) - 1
MASK = SAT
NT = 0x8F3F
SETTINGS = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Window:
    w: int
    open: bool = False
    start: int = 0
    count: int = 0
    prev: int = 0

    def advance(self, tau: int) -> None:
        if self.open:
            k = (tau - self.start) // self.w
            if k == 1 and self.count > 0:
                self.prev, self.count, self.start = self.count, 0, self.start + self.w
            elif k >= 1:
                self.open, self.prev, self.count = False, 0, 0

    def hit(self, t: int) -> None:
        self.advance(t)
        if not self.open:
            self.open, self.start = True, t
        self.count = min(self.count + 1, SAT)


@dataclass
class CodeState:
    win: Window
    episode: bool = False
    skip: int = 0
    last_forward: int = 0


@dataclass
class PolicyReference:
    """docs/policy.md "Per-alert decision", step by step."""

    cfg: Config
    dev: Window = field(init=False)
    codes: dict[int, CodeState] = field(default_factory=dict)
    red: bool = False

    def __post_init__(self) -> None:
        self.dev = Window(self.cfg.device_window_ms)

    def overloaded(self, c: CodeState) -> bool:
        return c.win.count > self.cfg.code_limit or c.win.prev > self.cfg.code_limit

    def offer(self, code: int, t: int) -> int:
        cfg = self.cfg
        for c in self.codes.values():  # step 1
            c.win.advance(t)
            if c.episode and not self.overloaded(c):
                c.episode = False
        self.dev.hit(t)
        self.red = self.dev.count >= cfg.red_threshold or self.dev.prev >= cfg.red_threshold
        if not self.red:
            self.codes.clear()
        if code in cfg.never_throttle:  # step 2
            return FORWARD
        if not self.red:  # step 3
            return FORWARD
        c = self.codes.setdefault(code, CodeState(Window(cfg.code_window_ms)))  # step 4
        c.win.hit(t)
        if not self.overloaded(c):
            return FORWARD
        if not c.episode:  # step 5
            c.episode, c.skip, c.last_forward = True, cfg.throttle_n - 1, t
            return FORWARD | STARTED
        if cfg.throttle_mode == 1:  # step 6
            if c.skip == 0:
                c.skip = cfg.throttle_n - 1
                return FORWARD
            c.skip -= 1
            return SUPPRESS
        if t - c.last_forward >= cfg.throttle_period_ms:
            c.last_forward = t
            return FORWARD
        return SUPPRESS


@st.composite
def configs(draw: st.DrawFn) -> Config:
    red = draw(st.integers(1, 12))
    return Config.from_dict({
        "device_window_ms": draw(st.sampled_from([1000, 2500, 10000])),
        "red_threshold": red,
        "amber_threshold": draw(st.integers(1, red)),
        "code_window_ms": draw(st.sampled_from([1000, 4000, 10000])),
        "code_limit": draw(st.integers(0, 4)),
        "throttle_mode": draw(st.sampled_from(["one_in_n", "one_per_period"])),
        "throttle_n": draw(st.integers(1, 5)),
        "throttle_period_ms": draw(st.sampled_from([1000, 3000])),
        "summary_interval_ms": draw(st.sampled_from([1000, 5000])),
        "never_throttle": [NT],
    })


# (gap before the alert in ms, code, poll before it?) -- gaps from bursts to window-length quiet
streams = st.lists(
    st.tuples(st.sampled_from([0, 1, 7, 50, 300, 999, 1000, 2600, 9000, 25000]),
              st.sampled_from([1, 2, 3, 4, 5, 6, NT]), st.booleans()),
    min_size=1, max_size=120)
bases = st.one_of(st.just(0), st.integers(0, MASK), st.integers(MASK - 200000, MASK))


def absolute(stream: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    out, t = [], 0
    for gap, code, poll in stream:
        t += gap
        out.append((t, code, poll))
    return out


@SETTINGS
@given(configs(), streams, bases)
def test_decisions_equal_policy_and_ignore_polls_and_wrap(cfg: Config, stream, base: int) -> None:
    ref = PolicyReference(cfg)
    plain, polled = Limiter(cfg, 16), Limiter(cfg, 16)
    for t, code, poll in absolute(stream):
        tick = (base + t) & MASK
        if poll:
            polled.poll(((base + t) - 1) & MASK if t else tick)
            polled.poll(tick)
        want = ref.offer(code, t)
        assert plain.offer(code, tick) == want
        assert polled.offer(code, tick) == want


@settings(max_examples=1000, deadline=None)
@given(configs(), streams, st.integers(1, 3))
def test_healthy_device_is_never_filtered(cfg: Config, stream, slots: int) -> None:
    ref = PolicyReference(cfg)
    lim = Limiter(cfg, slots)  # a small table: overflow must not filter a healthy device either
    for t, code, poll in absolute(stream):
        if poll:
            lim.poll(t)
        ref.offer(code, t)
        r = lim.offer(code, t)
        if not ref.red:
            assert r == FORWARD


@settings(max_examples=1000, deadline=None)
@given(configs(), streams, st.integers(1, 3))
def test_never_throttle_codes_are_never_suppressed(cfg: Config, stream, slots: int) -> None:
    lim = Limiter(cfg, slots)
    for t, code, poll in absolute(stream):
        if poll:
            lim.poll(t)
        r = lim.offer(code, t)
        if code == NT:
            assert r == FORWARD


@SETTINGS
@given(configs(), streams, st.integers(1, 4), st.integers(0, 3))
def test_conservation_every_suppressed_alert_is_reported(cfg: Config, stream, slots: int,
                                                        pop_every: int) -> None:
    lim = Limiter(cfg, slots)
    reported = 0
    decided = {FORWARD: 0, FORWARD | STARTED: 0, SUPPRESS: 0}
    t = 0
    for n, (t, code, poll) in enumerate(absolute(stream)):
        if poll:
            lim.poll(t)
        decided[lim.offer(code, t)] += 1
        if pop_every and n % pop_every == 0:
            while (s := lim.pop_summary()) is not None:
                reported += s[2]
    st_ = lim.stats()
    assert st_["offered"] == len(stream) == st_["forwarded"] + st_["suppressed"]
    assert st_["suppressed"] == decided[SUPPRESS]
    # every episode ends once every window has passed quietly
    end = t + 2 * max(cfg.device_window_ms, cfg.code_window_ms) + 1
    assert lim.poll(end) == lim.pending()
    while (s := lim.pop_summary()) is not None:
        assert s[2] <= s[3]
        reported += s[2]
    assert reported == st_["suppressed"]
    assert lim.pending() == 0
    assert lim.poll(end + 1) == 0


class EagerTable(Limiter):
    """The limiter without its full-table shortcut: every offer that finds the table full
    rescans it, as step 1 of the policy (advance every code) implies."""

    def _slot_for(self, code: int) -> int:
        self._rescan = True
        return super()._slot_for(code)


@SETTINGS
@given(configs(), streams, st.integers(1, 3), st.integers(0, 3))
def test_full_table_shortcut_never_changes_a_decision(cfg: Config, stream, slots: int,
                                                      pop_every: int) -> None:
    fast, eager = Limiter(cfg, slots), EagerTable(cfg, slots)
    for n, (t, code, poll) in enumerate(absolute(stream)):
        if poll:
            assert fast.poll(t) == eager.poll(t)
        assert fast.offer(code, t) == eager.offer(code, t)
        if pop_every and n % pop_every == 0:
            while (s := fast.pop_summary()) is not None:
                assert s == eager.pop_summary()
    assert fast.stats() == eager.stats()


class NoFastPath(Limiter):
    """The limiter without its healthy fast path: the grant is withdrawn before every offer,
    so every alert takes the full path."""

    def offer(self, code: int, now_ms: int) -> int:
        self._sync()
        return super().offer(code, now_ms)


@SETTINGS
@given(configs(), streams, st.integers(1, 3), st.integers(0, 7))
def test_healthy_fast_path_never_changes_a_decision_or_a_count(cfg: Config, stream, slots: int,
                                                               look_every: int) -> None:
    fast, full = Limiter(cfg, slots), NoFastPath(cfg, slots)
    for n, (t, code, poll) in enumerate(absolute(stream)):
        if poll:
            assert fast.poll(t) == full.poll(t)
        assert fast.offer(code, t) == full.offer(code, t)
        if look_every and n % look_every == 0:  # reading counts mid-grant must see them all
            assert fast.stats() == full.stats()
            assert fast.level(t) == full.level(t)
            assert fast.snapshot(t) == full.snapshot(t)
    assert fast.stats() == full.stats()
    end = t + 1 if stream else 0
    assert fast.snapshot(end) == full.snapshot(end)
