//! `skein`: the agent (`skein agent ...`) and the CLI (`skein kv ...`).

use std::process::ExitCode;
use std::sync::Arc;

use skein_config::{Builder, OsEnvironment, RuntimeConfig, parse_flags};
use skein_http_api::LogFeed;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((cmd, rest)) if cmd == "agent" => run_agent(rest),
        _ => skein_cli::run(args),
    }
}

fn run_agent(args: &[String]) -> ExitCode {
    let config = match load_config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("==> {e}");
            return ExitCode::from(1);
        }
    };
    let feed = skein_http_api::log_feed();
    init_tracing(&config, feed.clone());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("==> starting runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let args = args.to_vec();
    let reload: skein_agent::Reloader =
        Box::new(move || load_config(&args).map_err(|e| e.to_string()));
    match runtime.block_on(skein_agent::run(Arc::new(config), reload, feed)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "agent failed");
            eprintln!("==> {e}");
            ExitCode::from(1)
        }
    }
}

fn load_config(args: &[String]) -> anyhow::Result<RuntimeConfig> {
    let flags = parse_flags(args)?;
    Ok(Builder::build(&flags, &OsEnvironment)?)
}

fn init_tracing(config: &RuntimeConfig, feed: LogFeed) {
    use tracing_subscriber::filter::FilterExt;
    use tracing_subscriber::prelude::*;
    const QUIET: &str = "openraft=warn,h2=warn,hyper=warn,tower=warn,hickory_server=warn,hickory_proto=warn,hickory_net=warn";
    let default = format!("{},{QUIET}", config.log_level.as_filter());
    let filter = |default: &str| {
        tracing_subscriber::EnvFilter::try_from_env("SKEIN_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
    };
    // `/v1/agent/monitor?loglevel=debug` shows debug lines even when the
    // agent itself logs at info; the layer formats nothing without a
    // listener. It reads events only: were spans enabled for it, every
    // request's debug span would be kept (in the span registry, about
    // 140 B) for as long as a blocking query stays parked.
    let monitor = format!("debug,{QUIET}");
    let events_only = tracing_subscriber::filter::filter_fn(|meta| meta.is_event());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if config.log_json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter(&default)))
        .with(skein_agent::MonitorLayer::new(feed).with_filter(filter(&monitor).and(events_only)))
        .init();
}
