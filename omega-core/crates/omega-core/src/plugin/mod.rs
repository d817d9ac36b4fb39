//! (in progress) the plugin ABI
