//! `zgate cert`.
use std::process::ExitCode;

use crate::Global;

#[derive(clap::Args, Debug)]
pub struct CertArgs {}

pub fn run(_global: &Global, _args: CertArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`zgate cert` is not built yet")
}
