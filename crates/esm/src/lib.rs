#![forbid(unsafe_code)]

pub mod passticket;
