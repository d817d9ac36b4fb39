//! The limit of issue 12: what the template's example rule (`templates/strategy`, an EMA/ATR channel
//! breakout) costs when written by hand as one fused loop: no engine, no plugin, no indicator
//! store; EMA and ATR advance in O(1) per bar, fills and exits follow docs/engine.md for the
//! configs benchmarked (fixed lots, no costs). [`sweep`] is the hand-written many-config version:
//! per block of bars each distinct indicator is computed once and every config advances through
//! the block. `tests/identical.rs` proves the trades equal a run of the template through the engine.

pub mod template {
    //! The template's strategy, rendered with the cookiecutter defaults (build.rs).
    include!(concat!(env!("OUT_DIR"), "/template_strategy.rs"));
}

/// One config of the rule (the template's params; sizing is fixed lots, costs are zero).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rule {
    pub ema_length: usize,
    pub atr_length: usize,
    pub band_atr: f64,
    pub sl_atr: f64,
    pub tp_atr: f64,
    pub breakeven_r: Option<f64>,
    pub max_bars: usize,
}

/// Market columns the loop reads.
#[derive(Clone, Copy, Debug)]
pub struct Bars<'a> {
    pub bid_open: &'a [f64],
    pub bid_high: &'a [f64],
    pub bid_low: &'a [f64],
    pub bid_close: &'a [f64],
    pub ask_open: &'a [f64],
    pub ask_high: &'a [f64],
    pub ask_low: &'a [f64],
    pub ask_close: &'a [f64],
}

impl Bars<'_> {
    pub fn len(&self) -> usize {
        self.bid_close.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bid_close.is_empty()
    }
}

/// Why a trade closed (the engine's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    StopLoss,
    TakeProfit,
    Timeout,
    EndOfData,
}

/// One closed trade.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trade {
    pub long: bool,
    pub entry_index: usize,
    pub exit_index: usize,
    pub entry_price: f64,
    pub exit_price: f64,
    pub initial_stop_loss: f64,
    pub exit: Exit,
    pub pnl: f64,
}

/// What one config produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub trades: Vec<Trade>,
    pub net_profit: f64,
    pub max_drawdown: f64,
}

/// Account constants of the benchmarked configs.
#[derive(Clone, Copy, Debug)]
pub struct Account {
    pub initial_balance: f64,
    pub lots: f64,
    pub contract_size: f64,
}

impl Default for Account {
    fn default() -> Self {
        Account { initial_balance: 100_000.0, lots: 1.0, contract_size: 100_000.0 }
    }
}

/// EMA in O(1) per bar, the operation order of `omega_core::indicators::ema`.
#[derive(Clone, Copy, Debug)]
struct Ema {
    alpha: f64,
    beta: f64,
    y: f64,
    started: bool,
}

impl Ema {
    fn new(n: usize) -> Self {
        let alpha = 2.0 / (n as f64 + 1.0);
        Ema { alpha, beta: 1.0 - alpha, y: f64::NAN, started: false }
    }

    #[inline]
    fn push(&mut self, x: f64) -> f64 {
        if !self.started {
            self.y = x;
            self.started = true;
        } else if x != self.y {
            self.y = self.beta * self.y + self.alpha * x;
        }
        self.y
    }
}

/// Wilder ATR in O(1) per bar, the operation order of `omega_core::indicators::atr::wilder`.
#[derive(Clone, Copy, Debug)]
struct Atr {
    n: usize,
    nf: f64,
    keep: f64,
    seen: usize,
    sum: f64,
    atr: f64,
    prev_close: f64,
}

impl Atr {
    fn new(n: usize) -> Self {
        Atr { n, nf: n as f64, keep: (n.max(1) - 1) as f64, seen: 0, sum: 0.0, atr: f64::NAN, prev_close: f64::NAN }
    }

    #[inline]
    fn push(&mut self, h: f64, l: f64, c: f64) -> f64 {
        let hl = h - l;
        let tr = if self.seen == 0 { hl } else { hl.max((h - self.prev_close).abs()).max((l - self.prev_close).abs()) };
        self.prev_close = c;
        self.seen += 1;
        if self.seen < self.n {
            self.sum += tr;
            f64::NAN
        } else if self.seen == self.n {
            self.sum += tr;
            self.atr = self.sum / self.nf;
            self.atr
        } else {
            self.atr = (self.atr * self.keep + tr) / self.nf;
            self.atr
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Open {
    long: bool,
    entry_index: usize,
    entry_price: f64,
    initial_stop_loss: f64,
    stop_loss: f64,
    take_profit: f64,
}

/// The per-config state of the fused loop.
#[derive(Clone, Debug)]
struct Runner {
    rule: Rule,
    ema: usize,
    atr: usize,
    open: Option<Open>,
    balance: f64,
    peak: f64,
    out: Summary,
}

impl Runner {
    fn close(&mut self, acc: &Account, p: Open, i: usize, price: f64, exit: Exit) {
        let sign = if p.long { 1.0 } else { -1.0 };
        let pnl = (price - p.entry_price) * sign * acc.lots * acc.contract_size;
        self.balance += pnl;
        self.out.trades.push(Trade {
            long: p.long,
            entry_index: p.entry_index,
            exit_index: i,
            entry_price: p.entry_price,
            exit_price: price,
            initial_stop_loss: p.initial_stop_loss,
            exit,
            pnl,
        });
    }

    /// One bar (docs/engine.md order): exits, position management, entry, equity.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn bar(&mut self, b: &Bars<'_>, acc: &Account, i: usize, e: f64, a: f64, pe: f64, pa: f64) {
        let mut closed = false;
        if let Some(mut p) = self.open {
            let (o, h, l) = if p.long {
                (b.bid_open[i], b.bid_high[i], b.bid_low[i])
            } else {
                (b.ask_open[i], b.ask_high[i], b.ask_low[i])
            };
            let hit = if p.long {
                if l <= p.stop_loss {
                    Some((if p.stop_loss < o { p.stop_loss } else { o }, Exit::StopLoss))
                } else if h >= p.take_profit {
                    Some((if p.take_profit > o { p.take_profit } else { o }, Exit::TakeProfit))
                } else {
                    None
                }
            } else if h >= p.stop_loss {
                Some((if p.stop_loss > o { p.stop_loss } else { o }, Exit::StopLoss))
            } else if l <= p.take_profit {
                Some((if p.take_profit < o { p.take_profit } else { o }, Exit::TakeProfit))
            } else {
                None
            };
            if let Some((price, why)) = hit {
                self.close(acc, p, i, price, why);
                self.open = None;
                closed = true;
            } else {
                let mark = if p.long { b.bid_close[i] } else { b.ask_close[i] };
                if i - p.entry_index >= self.rule.max_bars {
                    self.close(acc, p, i, mark, Exit::Timeout);
                    self.open = None;
                    closed = true;
                } else if let Some(r) = self.rule.breakeven_r {
                    let sign = if p.long { 1.0 } else { -1.0 };
                    let risk = sign * (p.entry_price - p.stop_loss);
                    if risk > 0.0 && sign * (mark - p.entry_price) >= r * risk {
                        p.stop_loss = p.entry_price;
                        self.open = Some(p);
                    }
                }
            }
        }
        if self.open.is_none() && !closed && i > 0 {
            let (pc, c) = (b.bid_close[i - 1], b.bid_close[i]);
            if pc.is_finite() && pe.is_finite() && pa.is_finite() && e.is_finite() && a.is_finite() {
                let band = self.rule.band_atr;
                let (upper, lower) = (e + band * a, e - band * a);
                let signal = if pc <= pe + band * pa && c > upper {
                    Some((true, b.ask_close[i]))
                } else if pc >= pe - band * pa && c < lower {
                    Some((false, b.bid_close[i]))
                } else {
                    None
                };
                if let Some((long, entry)) = signal {
                    let sign = if long { 1.0 } else { -1.0 };
                    let sl = entry - sign * self.rule.sl_atr * a;
                    let tp = entry + sign * self.rule.tp_atr * a;
                    if (long && sl < entry) || (!long && sl > entry) {
                        self.open = Some(Open {
                            long,
                            entry_index: i,
                            entry_price: entry,
                            initial_stop_loss: sl,
                            stop_loss: sl,
                            take_profit: tp,
                        });
                    }
                }
            }
        }
        let equity = match self.open {
            Some(p) => {
                let (mark, sign) = if p.long { (b.bid_close[i], 1.0) } else { (b.ask_close[i], -1.0) };
                self.balance + (mark - p.entry_price) * sign * acc.lots * acc.contract_size
            }
            None => self.balance,
        };
        self.peak = self.peak.max(equity);
        self.out.max_drawdown = self.out.max_drawdown.max(self.peak - equity);
    }
}

/// Bars per block: the distinct indicators of a block are computed once, then every config
/// advances through it while they are in L1/L2.
pub const BLOCK: usize = 2048;

/// Run every rule over `b` in one pass of blocks, sharing each distinct EMA and ATR.
pub fn run(b: &Bars<'_>, rules: &[Rule], acc: &Account) -> Vec<Summary> {
    let n = b.len();
    let mut ema_lens: Vec<usize> = Vec::new();
    let mut atr_lens: Vec<usize> = Vec::new();
    let mut runners: Vec<Runner> = rules
        .iter()
        .map(|r| {
            let ema = ema_lens.iter().position(|&x| x == r.ema_length).unwrap_or_else(|| {
                ema_lens.push(r.ema_length);
                ema_lens.len() - 1
            });
            let atr = atr_lens.iter().position(|&x| x == r.atr_length).unwrap_or_else(|| {
                atr_lens.push(r.atr_length);
                atr_lens.len() - 1
            });
            Runner {
                rule: *r,
                ema,
                atr,
                open: None,
                balance: acc.initial_balance,
                peak: acc.initial_balance,
                out: Summary::default(),
            }
        })
        .collect();
    let mut emas: Vec<Ema> = ema_lens.iter().map(|&k| Ema::new(k)).collect();
    let mut atrs: Vec<Atr> = atr_lens.iter().map(|&k| Atr::new(k)).collect();
    // block buffers with one extra slot in front: the previous block's last value
    let mut ema_buf = vec![f64::NAN; emas.len() * (BLOCK + 1)];
    let mut atr_buf = vec![f64::NAN; atrs.len() * (BLOCK + 1)];
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        for (k, ema) in emas.iter_mut().enumerate() {
            let row = &mut ema_buf[k * (BLOCK + 1)..(k + 1) * (BLOCK + 1)];
            row[0] = if start == 0 { f64::NAN } else { row[BLOCK] };
            for (j, i) in (start..end).enumerate() {
                row[j + 1] = ema.push(b.bid_close[i]);
            }
        }
        for (k, atr) in atrs.iter_mut().enumerate() {
            let row = &mut atr_buf[k * (BLOCK + 1)..(k + 1) * (BLOCK + 1)];
            row[0] = if start == 0 { f64::NAN } else { row[BLOCK] };
            for (j, i) in (start..end).enumerate() {
                row[j + 1] = atr.push(b.bid_high[i], b.bid_low[i], b.bid_close[i]);
            }
        }
        for r in runners.iter_mut() {
            let e_row = &ema_buf[r.ema * (BLOCK + 1)..(r.ema + 1) * (BLOCK + 1)];
            let a_row = &atr_buf[r.atr * (BLOCK + 1)..(r.atr + 1) * (BLOCK + 1)];
            for (j, i) in (start..end).enumerate() {
                r.bar(b, acc, i, e_row[j + 1], a_row[j + 1], e_row[j], a_row[j]);
            }
        }
        start = end;
    }
    let last = n.saturating_sub(1);
    runners
        .into_iter()
        .map(|mut r| {
            if let Some(p) = r.open.take() {
                let mark = if p.long { b.bid_close[last] } else { b.ask_close[last] };
                r.close(acc, p, last, mark, Exit::EndOfData);
            }
            r.out.net_profit = r.balance - acc.initial_balance;
            r.out
        })
        .collect()
}

/// [`run`] on `threads` threads, each taking an equal share of the rules (its own indicators).
pub fn sweep(b: &Bars<'_>, rules: &[Rule], acc: &Account, threads: usize) -> Vec<Summary> {
    let threads = threads.clamp(1, rules.len().max(1));
    let per = rules.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = rules.chunks(per.max(1)).map(|chunk| s.spawn(move || run(b, chunk, acc))).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

/// The benchmark's 100 configs: EMA 10–50 × ATR 14/21 × band 0.5–2.5 × TP 2/3 ATR.
pub fn grid100() -> Vec<Rule> {
    let mut g = Vec::with_capacity(100);
    for ema_length in [10, 20, 30, 40, 50] {
        for atr_length in [14, 21] {
            for band_atr in [0.5, 1.0, 1.5, 2.0, 2.5] {
                for tp_atr in [2.0, 3.0] {
                    g.push(Rule {
                        ema_length,
                        atr_length,
                        band_atr,
                        sl_atr: 1.5,
                        tp_atr,
                        breakeven_r: Some(1.0),
                        max_bars: 120,
                    });
                }
            }
        }
    }
    g
}
