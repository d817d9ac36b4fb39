//! The one error type of Omega. Every variant carries a stable code (`E4001`…) that Python
//! surfaces as `err.code`; codes are never reused or renumbered (see docs/errors.md).

/// Errors raised by strategies, the engine, data validation and the plugin boundary.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StrategyError {
    /// E4001: no strategy of that name is registered.
    #[error("strategy '{name}' is not registered")]
    StrategyNotFound { name: String },
    /// E4002: the configuration as a whole is invalid.
    #[error("invalid configuration: {reason}")]
    ConfigError { reason: String },
    /// E4002: one named parameter is invalid.
    #[error("invalid parameter '{name}': {reason}")]
    InvalidParameter { name: String, reason: String },
    /// E4003: an indicator could not be provided.
    #[error("indicator '{indicator}' not available: {reason}")]
    IndicatorError { indicator: String, reason: String },
    /// E4004: the market data is unusable (empty, unsorted, non-finite, crossed, ragged…).
    #[error("invalid market data: {reason}")]
    DataError { reason: String },
    /// E4005: more open positions than the configuration allows.
    #[error("position limit exceeded: {reason}")]
    PositionLimitExceeded { reason: String },
    /// E4006: a strategy returned a signal or action the engine cannot execute.
    #[error("invalid signal: {reason}")]
    InvalidSignal { reason: String },
    /// E4007: a strategy plugin was built against an incompatible ABI.
    #[error("incompatible strategy plugin: {reason}")]
    PluginIncompatible { reason: String },
    /// E4008: strategy code panicked; the panic was caught at the boundary.
    #[error("strategy '{strategy}' panicked: {message}")]
    StrategyPanicked { strategy: String, message: String },
    /// E4009: a bug in Omega itself.
    #[error("internal error: {reason}")]
    InternalError { reason: String },
    /// E4010: the run was stopped by an interrupt check (`crate::interrupt`: Ctrl-C, a cancelled
    /// sweep). The Python bindings raise it as `KeyboardInterrupt`.
    #[error("interrupted")]
    Interrupted,
}

impl StrategyError {
    /// The stable error code, e.g. `"E4002"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::StrategyNotFound { .. } => "E4001",
            Self::ConfigError { .. } | Self::InvalidParameter { .. } => "E4002",
            Self::IndicatorError { .. } => "E4003",
            Self::DataError { .. } => "E4004",
            Self::PositionLimitExceeded { .. } => "E4005",
            Self::InvalidSignal { .. } => "E4006",
            Self::PluginIncompatible { .. } => "E4007",
            Self::StrategyPanicked { .. } => "E4008",
            Self::InternalError { .. } => "E4009",
            Self::Interrupted => "E4010",
        }
    }

    /// Numeric form of [`code`](Self::code), used across the C ABI.
    pub fn numeric_code(&self) -> u32 {
        self.code()[1..].parse().unwrap_or(4009)
    }

    /// Rebuild an error from a numeric code and message (the plugin ABI carries only these).
    pub fn from_code(code: u32, message: String) -> Self {
        match code {
            4001 => Self::StrategyNotFound { name: message },
            4002 => Self::ConfigError { reason: message },
            4003 => Self::IndicatorError { indicator: String::from("?"), reason: message },
            4004 => Self::DataError { reason: message },
            4005 => Self::PositionLimitExceeded { reason: message },
            4006 => Self::InvalidSignal { reason: message },
            4007 => Self::PluginIncompatible { reason: message },
            4008 => Self::StrategyPanicked { strategy: String::from("?"), message },
            4010 => Self::Interrupted,
            _ => Self::InternalError { reason: message },
        }
    }

    /// Shorthand for a [`StrategyError::ConfigError`].
    pub fn config(reason: impl Into<String>) -> Self {
        Self::ConfigError { reason: reason.into() }
    }

    /// Shorthand for a [`StrategyError::InvalidParameter`].
    pub fn param(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidParameter { name: name.into(), reason: reason.into() }
    }

    /// Shorthand for a [`StrategyError::DataError`].
    pub fn data(reason: impl Into<String>) -> Self {
        Self::DataError { reason: reason.into() }
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, StrategyError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(StrategyError::config("x").code(), "E4002");
        assert_eq!(StrategyError::param("a", "b").numeric_code(), 4002);
        assert_eq!(StrategyError::from_code(4006, "m".into()).code(), "E4006");
        assert_eq!(StrategyError::from_code(1, "m".into()).code(), "E4009");
        assert_eq!(StrategyError::from_code(4010, "m".into()), StrategyError::Interrupted);
        assert_eq!(StrategyError::Interrupted.numeric_code(), 4010);
    }
}
