//! placeholder
pub mod graph;
