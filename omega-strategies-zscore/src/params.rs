//! Parameters of MRZ, parsed strictly from `StrategyConfig.params` (spec §2, §7 #16/#17): every
//! key is known and typed, every range checked, and any problem is an E4002 naming the key. Where
//! §2 itself states a lenient rule it is kept (`direction_filter`, `scenario6_mode`, scenario-6
//! override values cast as V1 did); `enabled_scenarios` is strict (issue 13: 1..=6, at least one). The package's pydantic model
//! (`omega_strategies_zscore.params.MrzParams`) applies the same rules, so both sides accept the
//! same configs. The parsed form is what the rest of the crate reads; it never looks at the JSON
//! again.

use omega_core::{StrategyConfig, StrategyError, Timeframe};
use serde_json::{Map, Value};

type Result<T> = std::result::Result<T, StrategyError>;

/// Mode of one HTF bias filter (spec §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterMode {
    /// `both` or `none`: always passes (the bias is only tagged).
    Pass,
    /// Passes iff the bias is +1.
    Above,
    /// Passes iff the bias is −1.
    Below,
}

/// One HTF bias filter (A or B).
#[derive(Clone, Debug, PartialEq)]
pub struct HtfFilterSpec {
    /// The timeframe name as configured, upper-cased (used in the `htf_<tf>_ema<n>` tag).
    pub label: String,
    /// The timeframe, `None` when the filter is not applied (`""`/`"NONE"`, §7 #2).
    pub tf: Option<Timeframe>,
    /// EMA length on the HTF bars.
    pub ema: usize,
    pub mode: FilterMode,
}

/// Feature the volatility-cluster guard clusters (spec §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolFeature {
    GarchForecast,
    AtrPoints,
}

/// How the scenario-6 chain combines its timeframes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainMode {
    All,
    Any,
}

/// Fixed GARCH(1,1) parameters (spec §3.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Garch {
    pub alpha: f64,
    pub beta: f64,
    /// `None` = derived; a value is clipped at >= 0 where it is used.
    pub omega: Option<f64>,
    pub use_log_returns: bool,
    pub scale: f64,
    pub min_periods: usize,
    pub sigma_floor: f64,
}

impl Garch {
    /// GARCH is unavailable (every σ missing) when α + β >= 1.
    pub fn available(&self) -> bool {
        self.alpha + self.beta < 1.0
    }

    /// The core's key form of these parameters.
    pub fn key_params(&self) -> omega_core::indicators::key::GarchParams {
        omega_core::indicators::key::GarchParams {
            alpha: self.alpha,
            beta: self.beta,
            omega: self.omega,
            scale: self.scale,
            min_periods: self.min_periods,
            use_log_returns: self.use_log_returns,
            sigma_floor: self.sigma_floor,
        }
    }
}

/// Scenario-6 parameters of one timeframe and direction, after the layered merge of §2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct S6Params {
    pub window_length: usize,
    pub b_b_length: usize,
    pub std_factor: f64,
    pub kalman_r: f64,
    pub kalman_q: f64,
    /// `z_score` if given, else the direction's own threshold, else the global one.
    pub threshold: f64,
}

/// One timeframe of the scenario-6 chain.
#[derive(Clone, Debug, PartialEq)]
pub struct S6Tf {
    /// Upper-cased name (`PRIMARY` resolved to the primary timeframe).
    pub name: String,
    pub tf: Timeframe,
    pub long: S6Params,
    pub short: S6Params,
}

/// Every MRZ parameter, typed and validated.
#[derive(Clone, Debug, PartialEq)]
pub struct MrzParams {
    pub primary: Timeframe,
    pub atr_length: usize,
    pub atr_mult: f64,
    pub b_b_length: usize,
    pub std_factor: f64,
    pub window_length: usize,
    pub z_score_long: f64,
    pub z_score_short: f64,
    pub ema_length: usize,
    pub kalman_r: f64,
    pub kalman_q: f64,
    pub tp_min_distance: f64,
    pub allow_long: bool,
    pub allow_short: bool,
    /// `enabled[n]` for scenario n in 1..=6 (index 0 unused).
    pub enabled: [bool; 7],
    pub use_position_manager: bool,
    /// Timeout in minutes; `None` = no timeout.
    pub max_holding_minutes: Option<i64>,
    pub htf_a: HtfFilterSpec,
    pub htf_b: HtfFilterSpec,
    pub garch: Garch,
    /// 0 = full-series Kalman-GARCH z; > 0 = local window (S4).
    pub local_z_lookback: usize,
    pub vol_feature: VolFeature,
    pub vol_window: usize,
    pub vol_k: usize,
    pub vol_log_transform: bool,
    pub vol_min_points: usize,
    pub vol_garch_lookback: usize,
    pub cluster_hysteresis_bars: usize,
    /// Lower-cased, trimmed cluster names admitted by S5 (empty = S5 never fires).
    pub vol_allowed: Vec<String>,
    pub s6_mode: ChainMode,
    pub s6: Vec<S6Tf>,
    /// Stale limit of HTF values in primary bars; 0 = derived per TF (spec §1).
    pub stale_bar_limit_bars: usize,
    /// Configurations that are accepted but cannot do what they seem to (spec §7).
    pub warnings: Vec<String>,
}

/// The eight keys a scenario-6 override may set.
const S6_KEYS: [&str; 8] =
    ["window_length", "b_b_length", "std_factor", "kalman_r", "kalman_q", "z_score_long", "z_score_short", "z_score"];

/// Every top-level key of `params` (flattened scenario-6 keys are matched separately).
const KNOWN_KEYS: [&str; 42] = [
    "atr_length",
    "atr_mult",
    "b_b_length",
    "std_factor",
    "window_length",
    "z_score_long",
    "z_score_short",
    "ema_length",
    "kalman_r",
    "kalman_q",
    "tp_min_distance",
    "direction_filter",
    "enabled_scenarios",
    "use_position_manager",
    "max_holding_minutes",
    "htf_tf",
    "htf_ema",
    "htf_filter",
    "extra_htf_tf",
    "extra_htf_ema",
    "extra_htf_filter",
    "garch_alpha",
    "garch_beta",
    "garch_omega",
    "garch_use_log_returns",
    "garch_scale",
    "garch_min_periods",
    "garch_sigma_floor",
    "local_z_lookback",
    "intraday_vol_feature",
    "intraday_vol_cluster_window",
    "intraday_vol_cluster_k",
    "intraday_vol_log_transform",
    "intraday_vol_min_points",
    "intraday_vol_garch_lookback",
    "cluster_hysteresis_bars",
    "intraday_vol_allowed",
    "scenario6_mode",
    "scenario6_timeframes",
    "scenario6_params",
    "scenario6_flat",
    "stale_bar_limit_bars",
];

/// Typed access to the params map; every getter names the key in its error.
struct Reader<'a> {
    map: &'a Map<String, Value>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A JSON number that is a whole number (integers, or floats with an integral value).
fn as_whole(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i)
            } else {
                let f = n.as_f64()?;
                (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
            }
        }
        _ => None,
    }
}

impl<'a> Reader<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn int(&self, key: &str, default: i64, min: i64) -> Result<i64> {
        let Some(v) = self.get(key) else { return Ok(default) };
        let i = as_whole(v)
            .ok_or_else(|| StrategyError::param(key, format!("must be a whole number, got {}", type_name(v))))?;
        if i < min {
            return Err(StrategyError::param(key, format!("must be >= {min}, got {i}")));
        }
        Ok(i)
    }

    fn usize(&self, key: &str, default: usize, min: usize) -> Result<usize> {
        let i = self.int(key, default as i64, min as i64)?;
        usize::try_from(i).map_err(|_| StrategyError::param(key, "out of range"))
    }

    fn float(&self, key: &str, default: f64) -> Result<f64> {
        let Some(v) = self.get(key) else { return Ok(default) };
        match v {
            Value::Number(n) => {
                n.as_f64().filter(|f| f.is_finite()).ok_or_else(|| StrategyError::param(key, "not finite"))
            }
            _ => Err(StrategyError::param(key, format!("must be a number, got {}", type_name(v)))),
        }
    }

    fn float_min(&self, key: &str, default: f64, min: f64, strict: bool) -> Result<f64> {
        let f = self.float(key, default)?;
        let ok = if strict { f > min } else { f >= min };
        if !ok {
            let op = if strict { ">" } else { ">=" };
            return Err(StrategyError::param(key, format!("must be {op} {min}, got {f}")));
        }
        Ok(f)
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(StrategyError::param(key, format!("must be true or false, got {}", type_name(v)))),
        }
    }

    fn string(&self, key: &str, default: &str) -> Result<String> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(StrategyError::param(key, format!("must be a string, got {}", type_name(v)))),
        }
    }
}

/// Parse a filter mode (`above`, `below`, `both`, `none`; case-insensitive).
fn filter_mode(key: &str, raw: &str) -> Result<FilterMode> {
    match raw.trim().to_lowercase().as_str() {
        "both" | "none" => Ok(FilterMode::Pass),
        "above" => Ok(FilterMode::Above),
        "below" => Ok(FilterMode::Below),
        other => Err(StrategyError::param(key, format!("'{other}' is not one of above, below, both, none"))),
    }
}

/// Parse a timeframe name; `""`/`"NONE"` give `None`.
fn htf_tf(key: &str, raw: &str) -> Result<Option<Timeframe>> {
    let up = raw.trim().to_uppercase();
    if up.is_empty() || up == "NONE" {
        return Ok(None);
    }
    Timeframe::from_str(&up).map(Some).ok_or_else(|| {
        StrategyError::param(key, format!("unknown timeframe '{raw}' (M1, M5, M15, M30, H1, H4, D1 or NONE)"))
    })
}

/// Filter B's timeframe for `extra_htf_tf = AUTO` (orig: BS:__init__).
fn auto_extra_tf(primary: Timeframe) -> &'static str {
    match primary {
        Timeframe::M5 => "H1",
        Timeframe::M15 | Timeframe::M30 => "H4",
        _ => "NONE",
    }
}

/// Default clustering tail per primary timeframe (orig: BS:_default_cluster_window).
fn default_cluster_window(primary: Timeframe) -> usize {
    match primary {
        Timeframe::M5 => 300,
        Timeframe::M15 => 200,
        Timeframe::M30 | Timeframe::H1 => 240,
        _ => 200,
    }
}

/// Normalise a scenario-6 timeframe name: upper-cased, `PRIMARY` → the primary timeframe.
fn s6_tf_name(raw: &str, primary: Timeframe) -> String {
    let up = raw.trim().to_uppercase();
    if up == "PRIMARY" {
        primary.as_str().to_string()
    } else {
        up
    }
}

/// A flattened key `scenario6_<TF>_<long|short>_<key>` (case-insensitive): (TF, is_long, key).
fn parse_flat_s6_key(key: &str) -> Option<(String, bool, &'static str)> {
    let lower = key.to_ascii_lowercase();
    let rest = lower.strip_prefix("scenario6_")?;
    let (tf, rest) = rest.split_once('_')?;
    if tf.is_empty() || !tf.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let (dir, name) = rest.split_once('_')?;
    let is_long = match dir {
        "long" => true,
        "short" => false,
        _ => return None,
    };
    let name = S6_KEYS.iter().find(|k| **k == name)?;
    Some((tf.to_string(), is_long, name))
}

/// V1's `int(v)` for a scenario-6 override: numbers truncate, booleans are 0/1, strings must
/// spell an integer. `None` = "fails to cast" (the global value is used instead).
fn cast_int(v: &Value) -> Option<i64> {
    match v {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() < 9.0e15).map(|f| f.trunc() as i64))
        }
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// V1's `float(v)` for a scenario-6 override (non-finite results count as failures).
fn cast_float(v: &Value) -> Option<f64> {
    let f = match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    f.is_finite().then_some(f)
}

/// Layered scenario-6 overrides of one timeframe and direction: later layers win (§2).
#[derive(Default)]
struct S6Layer<'a> {
    values: Vec<(&'static str, &'a Value)>,
}

impl<'a> S6Layer<'a> {
    fn set(&mut self, key: &'static str, v: &'a Value) {
        if let Some(slot) = self.values.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = v;
        } else {
            self.values.push((key, v));
        }
    }

    fn merge_object(&mut self, obj: &'a Map<String, Value>) {
        for (k, v) in obj {
            if let Some(name) = S6_KEYS.iter().find(|n| **n == k.as_str()) {
                self.set(name, v);
            }
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.values.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn resolve(&self, p: &MrzParams, long: bool) -> S6Params {
        let int = |key: &str, global: usize| {
            self.get(key).and_then(cast_int).and_then(|i| usize::try_from(i).ok()).unwrap_or(global)
        };
        let float = |key: &str, global: f64| self.get(key).and_then(cast_float).unwrap_or(global);
        let (own_key, global_thr) =
            if long { ("z_score_long", p.z_score_long) } else { ("z_score_short", p.z_score_short) };
        let threshold =
            if self.get("z_score").is_some() { float("z_score", global_thr) } else { float(own_key, global_thr) };
        S6Params {
            window_length: int("window_length", p.window_length),
            b_b_length: int("b_b_length", p.b_b_length),
            std_factor: float("std_factor", p.std_factor),
            kalman_r: float("kalman_r", p.kalman_r),
            kalman_q: float("kalman_q", p.kalman_q),
            threshold,
        }
    }
}

/// The enabled scenarios of a list: every entry a whole number 1..=6 and at least one (issue 13:
/// no entry is silently dropped and an empty list is not "all").
fn enabled_from_list(key: &str, entries: impl Iterator<Item = Option<i64>>) -> Result<[bool; 7]> {
    let mut enabled = [false; 7];
    for n in entries {
        match n {
            Some(n @ 1..=6) => enabled[n as usize] = true,
            Some(n) => return Err(StrategyError::param(key, format!("{n} is not a scenario number (1..6)"))),
            None => return Err(StrategyError::param(key, "entries must be scenario numbers 1..6")),
        }
    }
    if !enabled.iter().any(|e| *e) {
        return Err(StrategyError::param(key, "must name at least one scenario (1..6)"));
    }
    Ok(enabled)
}

impl MrzParams {
    /// Parse and validate the parameters of `config` (E4002 naming the key on any problem).
    pub fn from_config(config: &StrategyConfig) -> Result<Self> {
        let primary = config.primary_timeframe()?;
        let map = &config.params;
        let r = Reader { map };

        for key in map.keys() {
            if !KNOWN_KEYS.contains(&key.as_str()) && parse_flat_s6_key(key).is_none() {
                return Err(StrategyError::param(key.as_str(), "unknown parameter"));
            }
        }

        // Direction filter and scenarios: a value in `params` (CFG layout) overrides the
        // top-level fields of the config.
        let direction = match map.get("direction_filter") {
            None | Some(Value::Null) => config.direction_filter.trim().to_lowercase(),
            Some(Value::String(s)) => s.trim().to_lowercase(),
            Some(v) => {
                return Err(StrategyError::param("direction_filter", format!("must be a string, got {}", type_name(v))))
            }
        };
        let (allow_long, allow_short) = match direction.as_str() {
            "long" => (true, false),
            "short" => (false, true),
            _ => (true, true),
        };
        let enabled = match map.get("enabled_scenarios") {
            None => {
                enabled_from_list("enabled_scenarios", config.enabled_scenarios.iter().map(|n| Some(i64::from(*n))))?
            }
            Some(Value::Null) => [false, true, true, true, true, true, true],
            Some(Value::Array(items)) => enabled_from_list("enabled_scenarios", items.iter().map(as_whole))?,
            Some(v) => {
                return Err(StrategyError::param(
                    "enabled_scenarios",
                    format!("must be a list of scenario numbers, got {}", type_name(v)),
                ))
            }
        };

        let max_holding_minutes = match map.get("max_holding_minutes") {
            Some(Value::Null) => None,
            _ => Some(r.int("max_holding_minutes", 30, 1)?),
        };

        let htf_a_label = r.string("htf_tf", "D1")?.trim().to_uppercase();
        let htf_a = HtfFilterSpec {
            tf: htf_tf("htf_tf", &htf_a_label)?,
            label: htf_a_label,
            ema: r.usize("htf_ema", 100, 1)?,
            mode: filter_mode("htf_filter", &r.string("htf_filter", "both")?)?,
        };
        let raw_b = r.string("extra_htf_tf", "AUTO")?.trim().to_uppercase();
        let b_label = if raw_b == "AUTO" { auto_extra_tf(primary).to_string() } else { raw_b };
        let htf_b = HtfFilterSpec {
            tf: htf_tf("extra_htf_tf", &b_label)?,
            label: b_label,
            ema: r.usize("extra_htf_ema", 50, 1)?,
            mode: filter_mode("extra_htf_filter", &r.string("extra_htf_filter", "both")?)?,
        };

        let garch_omega = match map.get("garch_omega") {
            None | Some(Value::Null) => None,
            Some(_) => Some(r.float("garch_omega", 0.0)?),
        };
        let garch = Garch {
            alpha: r.float_min("garch_alpha", 0.05, 0.0, false)?,
            beta: r.float_min("garch_beta", 0.90, 0.0, false)?,
            omega: garch_omega,
            use_log_returns: r.bool("garch_use_log_returns", true)?,
            scale: r.float_min("garch_scale", 100.0, 0.0, true)?,
            min_periods: r.usize("garch_min_periods", 50, 0)?,
            sigma_floor: r.float_min("garch_sigma_floor", 1e-6, 0.0, false)?,
        };

        let vol_feature = match r.string("intraday_vol_feature", "garch_forecast")?.trim().to_lowercase().as_str() {
            "garch_forecast" => VolFeature::GarchForecast,
            "atr_points" => VolFeature::AtrPoints,
            other => {
                return Err(StrategyError::param(
                    "intraday_vol_feature",
                    format!("'{other}' is not one of garch_forecast, atr_points"),
                ))
            }
        };
        let vol_garch_lookback = match r.int("intraday_vol_garch_lookback", 500, i64::MIN)? {
            g if g <= 0 => 500,
            g => usize::try_from(g).map_err(|_| StrategyError::param("intraday_vol_garch_lookback", "out of range"))?,
        };
        let vol_allowed = match map.get("intraday_vol_allowed") {
            None => vec!["low".to_string(), "mid".to_string()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.trim().to_lowercase()),
                    other => Err(StrategyError::param(
                        "intraday_vol_allowed",
                        format!("entries must be strings, got {}", type_name(other)),
                    )),
                })
                .collect::<Result<Vec<_>>>()?,
            Some(v) => {
                return Err(StrategyError::param(
                    "intraday_vol_allowed",
                    format!("must be a list of cluster names, got {}", type_name(v)),
                ))
            }
        };

        let s6_mode = match r.string("scenario6_mode", "all")?.trim().to_lowercase().as_str() {
            "any" => ChainMode::Any,
            _ => ChainMode::All,
        };

        let mut p = MrzParams {
            primary,
            atr_length: r.usize("atr_length", 14, 1)?,
            atr_mult: r.float_min("atr_mult", 2.0, 0.0, false)?,
            b_b_length: r.usize("b_b_length", 20, 2)?,
            std_factor: r.float_min("std_factor", 2.0, 0.0, false)?,
            window_length: r.usize("window_length", 100, 2)?,
            z_score_long: r.float("z_score_long", -2.5)?,
            z_score_short: r.float("z_score_short", 2.5)?,
            ema_length: r.usize("ema_length", 30, 1)?,
            kalman_r: r.float_min("kalman_r", 0.01, 0.0, true)?,
            kalman_q: r.float_min("kalman_q", 1.0, 0.0, false)?,
            tp_min_distance: r.float_min("tp_min_distance", 1.0, 0.0, false)?,
            allow_long,
            allow_short,
            enabled,
            use_position_manager: r.bool("use_position_manager", true)?,
            max_holding_minutes,
            htf_a,
            htf_b,
            garch,
            local_z_lookback: r.usize("local_z_lookback", 0, 0)?,
            vol_feature,
            vol_window: match map.get("intraday_vol_cluster_window") {
                Some(Value::Null) => default_cluster_window(primary),
                _ => r.usize("intraday_vol_cluster_window", default_cluster_window(primary), 1)?,
            },
            vol_k: r.usize("intraday_vol_cluster_k", 3, 1)?,
            vol_log_transform: r.bool("intraday_vol_log_transform", true)?,
            vol_min_points: r.usize("intraday_vol_min_points", 60, 1)?,
            vol_garch_lookback,
            cluster_hysteresis_bars: r.usize("cluster_hysteresis_bars", 0, 0)?,
            vol_allowed,
            s6_mode,
            s6: Vec::new(),
            stale_bar_limit_bars: r.usize("stale_bar_limit_bars", 0, 0)?,
            warnings: Vec::new(),
        };
        p.s6 = parse_s6(map, &p)?;
        p.collect_warnings();
        Ok(p)
    }

    /// Whether scenario `n` in direction `long`/short is enabled and admitted by the filter.
    pub fn active(&self, n: usize, long: bool) -> bool {
        self.enabled.get(n).copied().unwrap_or(false) && if long { self.allow_long } else { self.allow_short }
    }

    /// Whether any HTF filter needs data (otherwise every bar passes A∧B).
    pub fn uses_htf(&self) -> bool {
        self.htf_a.tf.is_some() || self.htf_b.tf.is_some()
    }

    fn collect_warnings(&mut self) {
        let mut w = Vec::new();
        for long in [true, false] {
            let dir = if long { "long" } else { "short" };
            if self.active(2, long) {
                for n in [3, 5, 6] {
                    if self.active(n, long) {
                        w.push(format!(
                            "scenario {n} {dir} can never fire: it adds conditions to scenario 2 {dir}, \
                             which is enabled and evaluated first (spec §7 #5)"
                        ));
                    }
                }
            }
        }
        if !self.garch.available()
            && (self.enabled[4] || (self.enabled[5] && self.vol_feature == VolFeature::GarchForecast))
        {
            w.push(format!(
                "garch_alpha + garch_beta = {} >= 1: GARCH is unavailable, so scenario 4 (and scenario 5 with \
                 garch_forecast) never fires (spec §7 #15)",
                self.garch.alpha + self.garch.beta
            ));
        }
        if self.enabled[4] && self.local_z_lookback > 0 && self.local_z_lookback < self.garch.min_periods + 2 {
            w.push(format!(
                "local_z_lookback {} < garch_min_periods + 2 = {}: the local z is never defined, scenario 4 never fires",
                self.local_z_lookback,
                self.garch.min_periods + 2
            ));
        }
        if self.enabled[5] && self.vol_allowed.is_empty() {
            w.push("intraday_vol_allowed is empty: scenario 5 never fires (spec §7 #14)".to_string());
        }
        if self.enabled[6] && self.s6.is_empty() {
            w.push("scenario6_timeframes is empty: scenario 6 never fires".to_string());
        }
        for (name, tf) in self
            .s6
            .iter()
            .map(|t| (t.name.as_str(), Some(t.tf)))
            .chain([(self.htf_a.label.as_str(), self.htf_a.tf), (self.htf_b.label.as_str(), self.htf_b.tf)])
        {
            if let Some(tf) = tf {
                if tf.minutes() < self.primary.minutes() || tf.minutes() % self.primary.minutes() != 0 {
                    w.push(format!(
                        "timeframe {name} cannot be built from primary {}: its values are missing everywhere",
                        self.primary
                    ));
                }
            }
        }
        self.warnings = w;
    }
}

/// Parse `scenario6_timeframes`, `scenario6_params` and the flattened `scenario6_*` keys.
fn parse_s6(map: &Map<String, Value>, p: &MrzParams) -> Result<Vec<S6Tf>> {
    const KEY: &str = "scenario6_timeframes";
    let raw: Vec<&str> = match map.get(KEY) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.as_str()),
                other => Err(StrategyError::param(KEY, format!("entries must be strings, got {}", type_name(other)))),
            })
            .collect::<Result<_>>()?,
        Some(v) => {
            return Err(StrategyError::param(KEY, format!("must be a list of timeframes, got {}", type_name(v))));
        }
    };
    let mut names: Vec<(String, Timeframe)> = Vec::new();
    for r in raw {
        let name = s6_tf_name(r, p.primary);
        if name.is_empty() || names.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let tf = Timeframe::from_str(&name)
            .ok_or_else(|| StrategyError::param(KEY, format!("unknown timeframe '{r}' (M1 … D1 or PRIMARY)")))?;
        names.push((name, tf));
    }

    // Entries are merged in sorted order of their raw keys (`PRIMARY` and the primary's own name
    // can both be given), explicitly: the JSON map's iteration order is not relied upon.
    const PKEY: &str = "scenario6_params";
    let mut nested: Vec<(&str, String, &Map<String, Value>)> = match map.get(PKEY) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(obj)) => obj
            .iter()
            .map(|(tf, v)| match v {
                Value::Object(o) => Ok((tf.as_str(), s6_tf_name(tf, p.primary), o)),
                other => Err(StrategyError::param(
                    format!("{PKEY}.{tf}"),
                    format!("must be an object of overrides, got {}", type_name(other)),
                )),
            })
            .collect::<Result<_>>()?,
        Some(v) => {
            return Err(StrategyError::param(
                PKEY,
                format!("must be an object keyed by timeframe, got {}", type_name(v)),
            ));
        }
    };

    nested.sort_by(|a, b| a.0.cmp(b.0));

    // Flattened keys, given directly or collected under `scenario6_flat` (the pydantic model's
    // field for them), in sorted order of the raw keys: a later key wins.
    const FKEY: &str = "scenario6_flat";
    let mut flattened: Vec<(&str, String, bool, &'static str, &Value)> = Vec::new();
    for (k, v) in map {
        if let Some((tf, is_long, key)) = parse_flat_s6_key(k) {
            flattened.push((k.as_str(), s6_tf_name(&tf, p.primary), is_long, key, v));
        }
    }
    match map.get(FKEY) {
        None => {}
        Some(_) if !flattened.is_empty() => {
            return Err(StrategyError::param(FKEY, "give scenario-6 flattened keys or 'scenario6_flat', not both"));
        }
        Some(Value::Object(obj)) => {
            for (k, v) in obj {
                let (tf, is_long, key) = parse_flat_s6_key(k).ok_or_else(|| {
                    StrategyError::param(FKEY, format!("'{k}' is not a key scenario6_<TF>_<long|short>_<name>"))
                })?;
                flattened.push((k.as_str(), s6_tf_name(&tf, p.primary), is_long, key, v));
            }
        }
        Some(v) => {
            return Err(StrategyError::param(
                FKEY,
                format!("must be an object of flattened keys, got {}", type_name(v)),
            ));
        }
    }
    flattened.sort_by(|a, b| a.0.cmp(b.0));

    let mut out = Vec::with_capacity(names.len());
    for (name, tf) in names {
        let resolve = |long: bool| {
            let mut layer = S6Layer::default();
            let dir = if long { "long" } else { "short" };
            // Layers in order: flat keys of [TF], then [TF][dir], then flattened keys (§2).
            for (_, _, obj) in nested.iter().filter(|(_, n, _)| *n == name) {
                layer.merge_object(obj);
            }
            for (_, _, obj) in nested.iter().filter(|(_, n, _)| *n == name) {
                if let Some(Value::Object(d)) = obj.get(dir) {
                    layer.merge_object(d);
                }
            }
            for (_, ftf, is_long, key, v) in &flattened {
                if *is_long == long && *ftf == name {
                    layer.set(key, v);
                }
            }
            layer.resolve(p, long)
        };
        out.push(S6Tf { long: resolve(true), short: resolve(false), name, tf });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(tf: &str, params: Value) -> StrategyConfig {
        let mut c = StrategyConfig::new("EURUSD", tf);
        if let Value::Object(m) = params {
            c.params = m;
        }
        c
    }

    fn err_key(e: StrategyError) -> String {
        assert_eq!(e.code(), "E4002", "{e}");
        match e {
            StrategyError::InvalidParameter { name, .. } => name,
            other => panic!("expected InvalidParameter, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_spec() {
        let p = MrzParams::from_config(&cfg("H1", json!({}))).unwrap();
        assert_eq!((p.atr_length, p.atr_mult, p.b_b_length, p.std_factor), (14, 2.0, 20, 2.0));
        assert_eq!((p.window_length, p.z_score_long, p.z_score_short, p.ema_length), (100, -2.5, 2.5, 30));
        assert_eq!((p.kalman_r, p.kalman_q, p.tp_min_distance), (0.01, 1.0, 1.0));
        assert_eq!(p.enabled, [false, true, true, true, true, true, true]);
        assert!(p.allow_long && p.allow_short && p.use_position_manager);
        assert_eq!(p.max_holding_minutes, Some(30));
        assert_eq!(
            p.htf_a,
            HtfFilterSpec { label: "D1".into(), tf: Some(Timeframe::D1), ema: 100, mode: FilterMode::Pass }
        );
        assert_eq!(p.htf_b.tf, None);
        assert_eq!(p.htf_b.label, "NONE");
        assert_eq!(p.garch.omega, None);
        assert_eq!((p.garch.alpha, p.garch.beta, p.garch.scale, p.garch.min_periods), (0.05, 0.9, 100.0, 50));
        assert_eq!(p.vol_window, 240);
        assert_eq!((p.vol_k, p.vol_min_points, p.vol_garch_lookback, p.cluster_hysteresis_bars), (3, 60, 500, 0));
        assert_eq!(p.vol_allowed, vec!["low", "mid"]);
        assert_eq!(p.s6_mode, ChainMode::All);
        assert!(p.s6.is_empty());
    }

    #[test]
    fn auto_extra_tf_and_cluster_window_depend_on_primary() {
        let m5 = MrzParams::from_config(&cfg("M5", json!({}))).unwrap();
        assert_eq!((m5.htf_b.tf, m5.vol_window), (Some(Timeframe::H1), 300));
        let m15 = MrzParams::from_config(&cfg("M15", json!({}))).unwrap();
        assert_eq!((m15.htf_b.tf, m15.vol_window), (Some(Timeframe::H4), 200));
        let m1 = MrzParams::from_config(&cfg("M1", json!({}))).unwrap();
        assert_eq!((m1.htf_b.tf, m1.vol_window), (None, 200));
    }

    #[test]
    fn unknown_and_mistyped_keys_are_e4002_naming_the_key() {
        let bad = [
            (json!({"bogus": 1}), "bogus"),
            (json!({"atr_length": "14"}), "atr_length"),
            (json!({"atr_length": 0}), "atr_length"),
            (json!({"atr_length": 1.5}), "atr_length"),
            (json!({"b_b_length": 1}), "b_b_length"),
            (json!({"kalman_r": 0.0}), "kalman_r"),
            (json!({"use_position_manager": "false"}), "use_position_manager"),
            (json!({"max_holding_minutes": 0}), "max_holding_minutes"),
            (json!({"enabled_scenarios": 4}), "enabled_scenarios"),
            (json!({"htf_filter": "up"}), "htf_filter"),
            (json!({"htf_tf": "W1"}), "htf_tf"),
            (json!({"intraday_vol_feature": "garch"}), "intraday_vol_feature"),
            (json!({"intraday_vol_allowed": "low"}), "intraday_vol_allowed"),
            (json!({"intraday_vol_allowed": [1]}), "intraday_vol_allowed"),
            (json!({"scenario6_timeframes": ["X9"]}), "scenario6_timeframes"),
            (json!({"scenario6_params": []}), "scenario6_params"),
            (json!({"scenario6_M30_up_window_length": 3}), "scenario6_M30_up_window_length"),
            (json!({"garch_scale": 0.0}), "garch_scale"),
            (json!({"local_z_lookback": -1}), "local_z_lookback"),
            (json!({"stale_bar_limit_bars": -2}), "stale_bar_limit_bars"),
        ];
        for (params, key) in bad {
            let e = MrzParams::from_config(&cfg("H1", params.clone())).unwrap_err();
            assert_eq!(err_key(e), key, "{params}");
        }
    }

    #[test]
    fn lenient_v1_rules_kept_by_the_spec() {
        let p = MrzParams::from_config(&cfg(
            "H1",
            json!({"enabled_scenarios": [4, 2, 4.0], "direction_filter": "LONG ",
                   "max_holding_minutes": null, "intraday_vol_garch_lookback": -3, "scenario6_mode": "weird",
                   "garch_omega": -1.0, "atr_length": 7.0}),
        ))
        .unwrap();
        assert_eq!(p.enabled, [false, false, true, false, true, false, false]);
        assert!(p.allow_long && !p.allow_short);
        assert_eq!(p.max_holding_minutes, None);
        assert_eq!(p.vol_garch_lookback, 500);
        assert_eq!(p.s6_mode, ChainMode::All);
        assert_eq!(p.garch.omega, Some(-1.0));
        assert_eq!(p.atr_length, 7);
        let null = MrzParams::from_config(&cfg("H1", json!({"enabled_scenarios": null}))).unwrap();
        assert_eq!(null.enabled, [false, true, true, true, true, true, true]);
    }

    #[test]
    fn scenario_lists_name_only_real_scenarios() {
        for bad in [json!([]), json!([0]), json!([7]), json!([9]), json!([1, "2"]), json!([true]), json!([1.5])] {
            let e = MrzParams::from_config(&cfg("H1", json!({ "enabled_scenarios": bad }))).unwrap_err();
            assert_eq!(err_key(e), "enabled_scenarios", "{bad}");
        }
        let mut c = cfg("H1", json!({}));
        c.enabled_scenarios = vec![1, 7];
        assert_eq!(err_key(MrzParams::from_config(&c).unwrap_err()), "enabled_scenarios");
    }

    #[test]
    fn top_level_direction_and_scenarios_apply_without_params() {
        let mut c = cfg("H1", json!({}));
        c.direction_filter = "short".into();
        c.enabled_scenarios = vec![1];
        let p = MrzParams::from_config(&c).unwrap();
        assert!(!p.allow_long && p.allow_short);
        assert_eq!(p.enabled, [false, true, false, false, false, false, false]);
        assert!(p.active(1, false) && !p.active(1, true) && !p.active(2, false));
    }

    #[test]
    fn scenario6_layers_resolve_in_order() {
        let p = MrzParams::from_config(&cfg(
            "H1",
            json!({
                "window_length": 50, "z_score_long": -2.0, "z_score_short": 2.0,
                "scenario6_timeframes": ["h4", "PRIMARY", "H4", "", "D1"],
                "scenario6_params": {
                    "h4": {"window_length": 30, "std_factor": "2.5", "bogus": 1,
                           "long": {"window_length": 20, "z_score": -1.0},
                           "short": {"z_score_short": 1.5, "kalman_q": "x"}},
                    "primary": {"b_b_length": 10}
                },
                "SCENARIO6_h4_Long_window_length": 25,
                "scenario6_primary_short_z_score": 3.0
            }),
        ))
        .unwrap();
        let names: Vec<_> = p.s6.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["H4", "H1", "D1"]);
        let h4 = &p.s6[0];
        assert_eq!(h4.long.window_length, 25);
        assert_eq!(h4.long.std_factor, 2.5);
        assert_eq!(h4.long.threshold, -1.0);
        assert_eq!(h4.short.window_length, 30);
        assert_eq!(h4.short.threshold, 1.5);
        assert_eq!(h4.short.kalman_q, p.kalman_q, "a value that fails to cast falls back to the global");
        let h1 = &p.s6[1];
        assert_eq!((h1.long.b_b_length, h1.long.threshold), (10, -2.0));
        assert_eq!((h1.short.b_b_length, h1.short.threshold), (10, 3.0));
        let d1 = &p.s6[2];
        assert_eq!(
            d1.long,
            S6Params {
                window_length: 50,
                b_b_length: 20,
                std_factor: 2.0,
                kalman_r: 0.01,
                kalman_q: 1.0,
                threshold: -2.0
            }
        );
    }

    #[test]
    fn single_string_scenario6_timeframe_and_warnings() {
        let p = MrzParams::from_config(&cfg(
            "H1",
            json!({"scenario6_timeframes": "m30", "garch_alpha": 0.5, "garch_beta": 0.5, "intraday_vol_allowed": []}),
        ))
        .unwrap();
        assert_eq!(p.s6.len(), 1);
        assert_eq!(p.s6[0].tf, Timeframe::M30);
        let all = p.warnings.join("\n");
        assert!(all.contains("M30 cannot be built"), "{all}");
        assert!(all.contains("GARCH is unavailable"), "{all}");
        assert!(all.contains("intraday_vol_allowed is empty"), "{all}");
        assert!(all.contains("scenario 3 long can never fire"), "{all}");
    }

    #[test]
    fn scenario6_flat_is_the_collected_form_of_flattened_keys() {
        let direct = MrzParams::from_config(&cfg(
            "H1",
            json!({"scenario6_timeframes": ["H4"], "scenario6_H4_long_window_length": 7,
                   "scenario6_h4_short_z_score": 0.5}),
        ))
        .unwrap();
        let collected = MrzParams::from_config(&cfg(
            "H1",
            json!({"scenario6_timeframes": ["H4"],
                   "scenario6_flat": {"scenario6_H4_long_window_length": 7, "scenario6_h4_short_z_score": 0.5}}),
        ))
        .unwrap();
        assert_eq!(direct.s6, collected.s6);
        assert_eq!((collected.s6[0].long.window_length, collected.s6[0].short.threshold), (7, 0.5));
        for bad in [
            json!({"scenario6_flat": {"window_length": 3}}),
            json!({"scenario6_flat": {}, "scenario6_H4_long_z_score": 1.0}),
            json!({"scenario6_flat": [1]}),
        ] {
            assert_eq!(err_key(MrzParams::from_config(&cfg("H1", bad)).unwrap_err()), "scenario6_flat");
        }
    }

    #[test]
    fn same_timeframe_entries_merge_in_sorted_key_order() {
        // "H1" < "PRIMARY" < "h1" (byte order): with primary H1 all three name H1; later wins.
        let p = MrzParams::from_config(&cfg(
            "H1",
            json!({"scenario6_timeframes": ["PRIMARY"],
                   "scenario6_params": {"h1": {"window_length": 30}, "PRIMARY": {"window_length": 20, "b_b_length": 8},
                                        "H1": {"window_length": 10, "b_b_length": 6, "std_factor": 1.0}},
                   "scenario6_h1_long_kalman_q": 0.5, "scenario6_H1_long_kalman_q": 0.25}),
        ))
        .unwrap();
        let h1 = &p.s6[0];
        assert_eq!((h1.long.window_length, h1.long.b_b_length, h1.long.std_factor), (30, 8, 1.0));
        assert_eq!(h1.long.kalman_q, 0.5, "flattened keys in sorted order too");
        assert_eq!(h1.short.kalman_q, p.kalman_q);
        // cast rules: negative ints and failed casts give the global value; floats truncate
        let p = MrzParams::from_config(&cfg(
            "H1",
            json!({"scenario6_timeframes": ["H4"],
                   "scenario6_params": {"H4": {"window_length": -5, "b_b_length": 7.9, "std_factor": "1.5",
                                               "kalman_r": [1], "long": {"z_score_long": true}}}}),
        ))
        .unwrap();
        let h4 = &p.s6[0];
        assert_eq!((h4.long.window_length, h4.long.b_b_length, h4.long.std_factor), (p.window_length, 7, 1.5));
        assert_eq!((h4.long.kalman_r, h4.long.threshold, h4.short.threshold), (p.kalman_r, 1.0, p.z_score_short));
    }

    #[test]
    fn params_direction_and_scenarios_override_the_top_level() {
        let mut c = cfg("H1", json!({"direction_filter": null}));
        c.direction_filter = "short".into();
        let p = MrzParams::from_config(&c).unwrap();
        assert!(!p.allow_long && p.allow_short, "null in params: the top level applies");
        c.params.insert("direction_filter".into(), json!("sideways"));
        let p = MrzParams::from_config(&c).unwrap();
        assert!(p.allow_long && p.allow_short, "anything but long/short is both (§2)");
        c.params.insert("enabled_scenarios".into(), json!([3, 3.0]));
        assert_eq!(MrzParams::from_config(&c).unwrap().enabled, [false, false, false, true, false, false, false]);
        c.params.insert("direction_filter".into(), json!(1));
        assert_eq!(err_key(MrzParams::from_config(&c).unwrap_err()), "direction_filter");
        let mut c = cfg("H1", json!({"intraday_vol_cluster_window": null, "htf_tf": ""}));
        c.enabled_scenarios = vec![2];
        let p = MrzParams::from_config(&c).unwrap();
        assert_eq!(p.enabled, [false, false, true, false, false, false, false]);
        assert_eq!((p.vol_window, p.htf_a.tf, p.htf_a.label.as_str()), (240, None, ""));
    }
}
