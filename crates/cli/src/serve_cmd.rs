//! `zgate serve`.
use std::process::ExitCode;

use crate::Global;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {}

pub fn run(_global: &Global, _args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`zgate serve` is not built yet")
}
