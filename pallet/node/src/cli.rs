//! The command line: `sc-cli`'s standard node flags plus a few maintenance subcommands.

#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management (e.g. `key inspect-node-key` prints a node key's peer id).
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Write a chain specification (e.g. `--raw` from a plain one).
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Remove the whole chain database.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Print the database's metadata.
	ChainInfo(sc_cli::ChainInfoCmd),
}

#[derive(Debug, clap::Parser)]
pub struct Cli {
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	#[clap(flatten)]
	pub run: sc_cli::RunCmd,
}
