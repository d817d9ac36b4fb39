//! (in progress) the bar loop
