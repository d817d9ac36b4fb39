//! SplitMix64: the run's only source of randomness (slippage). Tiny, fast and exactly specified in
//! docs/engine.md, so the Python reference (`omega.reference.rng`) reproduces every draw.

/// SplitMix64 generator (Steele, Lea & Flood 2014), all arithmetic wrapping on u64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

/// 2^-53: maps the top 53 bits of a draw onto [0, 1).
const INV_2_POW_53: f64 = 1.0 / 9_007_199_254_740_992.0;

impl SplitMix64 {
    /// A generator seeded with `seed` (the state is the seed itself).
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Next uniform float in [0, 1): `(next_u64 >> 11) * 2^-53`.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * INV_2_POW_53
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_42_known_outputs() {
        let mut r = SplitMix64::new(42);
        assert_eq!(r.next_u64(), 13_679_457_532_755_275_413);
        assert_eq!(r.next_u64(), 2_949_826_092_126_892_291);
        assert_eq!(r.next_u64(), 5_139_283_748_462_763_858);
        let mut r = SplitMix64::new(42);
        assert_eq!(r.next_f64(), 0.741_564_878_771_823_3);
        assert_eq!(r.next_f64(), 0.159_910_392_876_920_1);
    }

    #[test]
    fn seed_0_reference_value() {
        // Published first output of SplitMix64 seeded with 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn f64_in_unit_interval() {
        let mut r = SplitMix64::new(7);
        for _ in 0..10_000 {
            let u = r.next_f64();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
