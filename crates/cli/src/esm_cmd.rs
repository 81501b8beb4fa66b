//! `zgate esm`.
use std::process::ExitCode;

use crate::Global;

#[derive(clap::Args, Debug)]
pub struct EsmArgs {}

pub fn run(_global: &Global, _args: EsmArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`zgate esm` is not built yet")
}
