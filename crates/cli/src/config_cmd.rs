//! `zgate config`.
use std::process::ExitCode;

use crate::Global;

#[derive(clap::Args, Debug)]
pub struct ConfigArgs {}

pub fn run(_global: &Global, _args: ConfigArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`zgate config` is not built yet")
}
